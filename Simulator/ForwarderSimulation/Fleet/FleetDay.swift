import ForwarderCore
import Foundation

/// The scripted day a fleet goes through: a steady trickle of events on every PC, a backlog at
/// the start on some, a server outage of several minutes, recovery, and a slow-server period.
public struct FleetDay: Sendable, Hashable {
    /// Midnight at the start of the day (a Monday, so blast monitors work).
    public var start: FileTime
    public var length: Duration
    /// Share of PCs that start with a backlog of `backlogDays` days of events never sent.
    public var backlogShare: Double
    public var backlogDays: Int
    /// The server refuses connections from `outageStart` (after `start`) for `outageDuration`.
    public var outageStart: Duration
    public var outageDuration: Duration
    /// The server's service times are multiplied by `slowdown` from `slowStart` for `slowDuration`.
    public var slowStart: Duration
    public var slowDuration: Duration
    public var slowdown: Double

    public init(start: FileTime = FileTime(secondsSince1970: 1_777_852_800), length: Duration = .seconds(86_400),
                backlogShare: Double = 0.2, backlogDays: Int = 2,
                outageStart: Duration = .seconds(10 * 3600), outageDuration: Duration = .seconds(8 * 60),
                slowStart: Duration = .seconds(14 * 3600), slowDuration: Duration = .seconds(45 * 60),
                slowdown: Double = 4) {
        self.start = start
        self.length = length
        self.backlogShare = backlogShare
        self.backlogDays = backlogDays
        self.outageStart = outageStart
        self.outageDuration = outageDuration
        self.slowStart = slowStart
        self.slowDuration = slowDuration
        self.slowdown = slowdown
    }

    public var end: FileTime { start + length }
    public var outage: Range<FileTime> { (start + outageStart)..<(start + outageStart + outageDuration) }
    public var slowPeriod: Range<FileTime> { (start + slowStart)..<(start + slowStart + slowDuration) }

    /// How much slower than usual the server serves a request that starts at `time`.
    public func slowdown(at time: FileTime) -> Double { slowPeriod.contains(time) ? slowdown : 1 }
}

/// One PC of the fleet: its seed, its units' serial range, whether it starts with a backlog,
/// and the plan of its folder.
public struct FleetPC: Sendable {
    public var index: Int
    public var seed: UInt64
    public var hasBacklog: Bool
    public var plan: FolderPlan
    public var manifest: [ManifestEntry]

    /// Units per PC: a PC downloads a few seismographs.
    public static let unitCount = 3

    /// Blast and vibration monitors: no stuck trigger (it would make one PC the fleet's whole
    /// load) and no idle unit, so that "about M events a day" holds on every PC; no sample
    /// tables in reports, which are a tenth of the generator's and the mock's work in a debug
    /// build and change nothing about load (the single-forwarder scenarios cover them).
    public static let profile: FolderProfile = {
        var profile = FolderProfile.mixed
        profile.unitRoleWeights = [.blastMonitor: 1, .vibrationMonitor: 1]
        profile.stuckDayShare = 0
        profile.sampleTableShare = 0
        return profile
    }()

    /// The PCs of a fleet of `count`, each with its own seed derived from `seed`, serials from a
    /// range of its own (so no two PCs hold events of one unit), and about `eventsPerPC` events
    /// over the day; the backlog PCs also hold the last `eventsPerPC × day.backlogDays` events
    /// of the days before (fewer only when the generator made fewer).
    public static func plan(count: Int, eventsPerPC: Int, seed: UInt64, day: FleetDay) -> [FleetPC] {
        var random = SeededRandom(seed: seed).derived("fleet-pcs")
        let serialsPerPC = max(FleetPC.unitCount, 24_000 / max(1, count))
        var backlog = (0..<count).map { _ in random.chance(day.backlogShare) }
        if count > 0, !backlog.contains(true), day.backlogShare > 0 { backlog[0] = true }
        return (0..<count).map { index in
            var pcRandom = SeededRandom(seed: seed).derived("pc \(index)")
            let pcSeed = pcRandom.next()
            let backlogDays = backlog[index] ? day.backlogDays : 0
            // One day more than the backlog needs, so that the trim below nearly always finds enough.
            let daysBefore = backlog[index] ? day.backlogDays + 1 : 0
            let firstSerial = 1000 + index * serialsPerPC
            let options = FolderGenerationOptions(
                seed: pcSeed, profile: FleetPC.profile, unitCount: FleetPC.unitCount, dayCount: 1 + daysBefore,
                eventsPerUnitPerDay: Double(eventsPerPC) / Double(FleetPC.unitCount),
                startTime: day.start - .seconds(86_400 * Int64(daysBefore)),
                serialNumbers: firstSerial...(firstSerial + serialsPerPC - 1))
            var plan = FolderPlanner.plan(options)
            // Every backlog PC starts with the same number of events never sent, so that no
            // PC's drain is longer than another's for want of a bigger backlog.
            let backlogEvents = plan.events.indices.filter { plan.events[$0].binaryFinish <= day.start }
            let excess = backlogEvents.count - eventsPerPC * backlogDays
            if excess > 0 {
                let dropped = Set(backlogEvents.sorted { plan.events[$0].binaryFinish < plan.events[$1].binaryFinish }.prefix(excess))
                plan.events = plan.events.indices.filter { !dropped.contains($0) }.map { plan.events[$0] }
            }
            return FleetPC(index: index, seed: pcSeed, hasBacklog: backlog[index], plan: plan, manifest: plan.manifest())
        }
    }
}
