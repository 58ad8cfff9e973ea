import Crypto
import ForwarderCore
import ForwarderIO
import Foundation
import Logging

/// One simulated run: what the folder holds and when, how the server misbehaves, what happens to
/// the forwarder, and the policy it runs with. One seed decides everything else.
public struct SimulationScenario: Sendable {
    public enum FolderMode: String, Sendable, CaseIterable {
        /// The whole folder exists before the first pass (a first deploy on a backlog).
        case backlog
        /// Files appear as simulated time passes: binaries in chunks, reports after their delay.
        case live
    }

    public var seed: UInt64
    public var generation: FolderGenerationOptions
    public var folderMode: FolderMode
    public var policy: ScanPolicy
    public var passInterval: Duration
    public var requestTimeout: Duration
    public var faultPlan: FaultPlan
    /// Run `seed-state` this long after the folder's period starts, before the first pass; only
    /// events that settle afterwards may then be uploaded.
    public var seedStateAfter: Duration?
    /// Changes to the folder before the first pass (extra files, copies), for special scenarios.
    public var folderEdits: (@Sendable (SimEventFolder, FolderPlan) throws -> Void)?
    /// Passes during which the forwarder dies before its state reaches the disk: everything
    /// it records in that pass is lost, then it restarts.
    public var crashDuringPasses: Set<Int>
    /// Passes after which the forwarder restarts cleanly (state synced, cache rebuilt).
    public var restartAfterPasses: Set<Int>
    /// Passes after which the fault plan is removed (the server heals).
    public var healAfterPass: Int?
    /// Passes after which an operator runs `event-forwarder retry --all`.
    public var releaseAllAfterPasses: Set<Int>
    /// Backoff, quarantine and circuit breaker; the jitter is seeded with the scenario's seed.
    public var retryPolicy: RetryPolicy
    /// The run gives up after this many passes.
    public var maximumPasses: Int
    /// Uploads in flight at once; above 1 the order in which the mock sees them, and so the run
    /// digest, depends on scheduling, while every rule must still hold.
    public var uploadConcurrency: Int
    /// Steps of the PC's wall clock (time sync, a hand-set clock), by the pass after which they
    /// happen (0: before the first): half a pass interval later the wall clock jumps by the
    /// duration, back when negative, while the monotonic clock and true time go on. Files
    /// written afterwards are dated by the stepped clock.
    public var wallClockSteps: [Int: Duration] = [:]
    /// Passes during which the state cannot be written (every write and sync fails, as on a
    /// full disk); from the pass after, the disk allows again.
    public var stateUnwritableDuringPasses: ClosedRange<Int>?

    public init(seed: UInt64, eventCount: Int = 500, profile: FolderProfile = .mixed, folderMode: FolderMode = .live,
                policy: ScanPolicy = ScanPolicy(), passInterval: Duration = .seconds(60),
                requestTimeout: Duration = .seconds(60), faultPlan: FaultPlan = .none, seedStateAfter: Duration? = nil,
                folderEdits: (@Sendable (SimEventFolder, FolderPlan) throws -> Void)? = nil, crashDuringPasses: Set<Int> = [], restartAfterPasses: Set<Int> = [], healAfterPass: Int? = nil,
                maximumPasses: Int = 10_000, uploadConcurrency: Int = 1, releaseAllAfterPasses: Set<Int> = [],
                retryPolicy: RetryPolicy = RetryPolicy(),
                startTime: FileTime = FileTime(secondsSince1970: 1_778_000_000)) {
        self.releaseAllAfterPasses = releaseAllAfterPasses
        self.retryPolicy = retryPolicy
        self.seed = seed
        self.generation = FolderGenerationOptions(seed: seed, profile: profile, eventCount: eventCount, startTime: startTime)
        self.folderMode = folderMode
        self.policy = policy
        self.passInterval = passInterval
        self.requestTimeout = requestTimeout
        self.faultPlan = faultPlan
        self.seedStateAfter = seedStateAfter
        self.folderEdits = folderEdits
        self.crashDuringPasses = crashDuringPasses
        self.restartAfterPasses = restartAfterPasses
        self.healAfterPass = healAfterPass
        self.maximumPasses = maximumPasses
        self.uploadConcurrency = uploadConcurrency
    }
}

/// What a simulated run did and whether every rule held.
public struct SimulationResult: Sendable {
    public var seed: UInt64
    public var passes: [PassReport]
    public var uploads: [SimulatedUpload]
    public var manifest: [ManifestEntry]
    public var seedReport: SeedReport?
    public var violations: [CheckerViolation]
    public var mockStats: MockStats
    public var lostToCrashes: Int
    /// Events quarantined at the end, by name: waiting for an operator, not lost.
    public var quarantined: [String]
    /// Whether the run ended because the work was done rather than at the pass limit.
    public var finished: Bool
    /// SHA-256 over every upload and pass summary: one seed, one digest.
    public var runDigest: String
    public var simulatedDuration: Duration

    public var passed: Bool { violations.isEmpty && finished }
    public var accepted: Int { uploads.filter(\.outcome.isAccepted).count }
}

/// Runs the real `EventForwarder` against an in-memory folder, the mock's pure handler and a
/// simulated clock and state, checking the rules after every pass.
public struct Simulation: Sendable {
    public let scenario: SimulationScenario

    public init(_ scenario: SimulationScenario) { self.scenario = scenario }

    public func run(logger: Logger = Logger(label: "simulation", factory: { _ in SwiftLogNoOpLogHandler() }),
                    onPass: @Sendable (Int, PassReport) -> Void = { _, _ in }) async throws -> SimulationResult {
        let plan = FolderPlanner.plan(scenario.generation)
        let manifest = plan.manifest()
        let folder = SimEventFolder()
        let clock: SimClock
        switch scenario.folderMode {
        case .backlog:
            folder.apply(plan)
            clock = SimClock(start: plan.periodEnd + .seconds(120))
        case .live:
            folder.schedule(LiveWriteSchedule(plan: plan))
            clock = SimClock(start: plan.periodStart)
        }
        let mock = MockSFM(configuration: MockSFM.Configuration(seed: scenario.seed, retainsReportText: false),
                           faultPlan: scenario.faultPlan, planInstalledAt: clock.now())
        let uploader = SimUploader(mock: mock, clock: clock, requestTimeout: scenario.requestTimeout)
        let store = SimStateStore()
        var checker = SimulationChecker(policy: scenario.policy, manifest: manifest,
                                        retryPolicy: scenario.retryPolicy)
        func makeForwarder() -> EventForwarder {
            EventForwarder(folder: folder, uploader: uploader, store: store, clock: clock, policy: scenario.policy,
                           uploadConcurrency: scenario.uploadConcurrency, retryPolicy: scenario.retryPolicy,
                           retrySeed: scenario.seed, logger: logger)
        }
        var forwarder = makeForwarder()
        var seedReport: SeedReport?
        var seeded: Set<EventDigest> = []
        if let seedStateAfter = scenario.seedStateAfter {
            clock.set(plan.periodStart + seedStateAfter)
            try folder.applyScheduledOperations(through: clock.now())
            seedReport = try await forwarder.seedState()
            seeded = Set(store.allRecords().map(\.digest))
        }
        try scenario.folderEdits?(folder, plan)

        var passes: [PassReport] = []
        var lostAcceptances: Set<Int> = []
        /// Uploads before this index had their outcome written by a sync that succeeded.
        var durableUploads = 0
        var runHash = SHA256()
        var finished = false
        let startedAt = clock.now()
        /// True time: the wall clock without its steps. The folder's schedule runs on it.
        func trueNow() -> FileTime { clock.now() - clock.wallOffset }
        func stepWallClock(afterPass index: Int) throws {
            guard let step = scenario.wallClockSteps[index] else { return }
            clock.advance(by: scenario.passInterval / 2)
            try folder.applyScheduledOperations(through: trueNow(), wallClockOffset: clock.wallOffset)
            clock.stepWall(by: step)
        }
        try stepWallClock(afterPass: 0)
        for index in 1...scenario.maximumPasses {
            try folder.applyScheduledOperations(through: trueNow(), wallClockOffset: clock.wallOffset)
            let listing = Array(try folder.listEntries())
            let uploadsBefore = uploader.uploads.count
            let waiting = Dictionary(store.allAttempts().map { ($0.fileName, $0) }, uniquingKeysWith: { _, last in last })
            if scenario.crashDuringPasses.contains(index) { store.suppressSyncs() }
            store.failWrites(scenario.stateUnwritableDuringPasses?.contains(index) == true
                ? "write failed: No space left on device (simulated)" : nil)
            let report = try await forwarder.runPassReportingUnwritableState()
            let passUploads = Array(uploader.uploads[uploadsBefore...])
            // Concurrent uploads start oldest first, but a child task may run long after later
            // ones, so the order they reach the server is not checked (EventForwarderTests check
            // the start order with a slow uploader).
            checker.checkPass(index, now: report.startedAt, listing: listing, uploads: passUploads,
                              reorderWindow: scenario.uploadConcurrency == 1 ? 1 : max(1, passUploads.count),
                              uploadConcurrency: scenario.uploadConcurrency, waiting: waiting,
                              trueNow: trueNow(), lastWrittenAt: folder.lastWrittenAt)
            passes.append(report)
            onPass(index, report)
            if report.stateUnwritable == nil, !scenario.crashDuringPasses.contains(index) {
                durableUploads = uploader.uploads.count
            }
            runHash.update(data: Data("pass \(index) \(report.startedAt.nanosecondsSince1970) \(report.summary)\n".utf8))
            for upload in passUploads {
                runHash.update(data: Data("\(upload.binaryName) \(upload.reportName ?? "-") \(upload.outcome)\n".utf8))
            }
            if scenario.crashDuringPasses.contains(index) {
                // A crash loses every outcome not yet synced: this pass's, and those kept in
                // memory while the state could not be written.
                lostAcceptances.formUnion(durableUploads..<uploader.uploads.count)
                durableUploads = uploader.uploads.count
                store.crash()
                forwarder = makeForwarder()
                checker.forwarderRestarted()
            } else if scenario.restartAfterPasses.contains(index) {
                forwarder = makeForwarder()
                checker.forwarderRestarted()
            }
            if scenario.healAfterPass == index { mock.replaceFaultPlan(.none, installedAt: clock.now()) }
            if scenario.releaseAllAfterPasses.contains(index) {
                _ = try ReleaseRequestBox.release(.all, in: store)
                try store.sync()
            }
            // An operator action still to come (or just taken) keeps the run going, even over a
            // settled folder.
            let actionsPending = (scenario.releaseAllAfterPasses.max() ?? 0) >= index || (scenario.healAfterPass ?? 0) >= index
            let stepsPending = (scenario.wallClockSteps.keys.max() ?? 0) >= index
            try stepWallClock(afterPass: index)
            let settled = isSettled(report, scenario: scenario) && !actionsPending && !stepsPending
            guard let nextWrite = folder.nextScheduledTime else {
                if settled {
                    finished = true
                    break
                }
                clock.advance(by: scenario.passInterval)
                continue
            }
            // Passes over a settled folder that nothing writes to are all alike: skip to the
            // last pass before the next write instead of running each one.
            if settled, nextWrite > trueNow() + scenario.passInterval {
                let idlePasses = Int((nextWrite - trueNow()) / scenario.passInterval)
                clock.advance(by: scenario.passInterval * (idlePasses - 1))
            }
            clock.advance(by: scenario.passInterval)
        }
        checker.checkState(store.allRecords(), uploads: uploader.uploads, seeded: seeded)
        let stats = mock.stats()
        let quarantined = store.allAttempts().filter(\.quarantined).map(\.fileName)
        if finished {
            checker.checkFinal(manifest: manifest, mock: mock, uploads: uploader.uploads, seeded: seeded,
                               lostAcceptances: lostAcceptances, now: trueNow(), quarantined: Set(quarantined))
        }
        let digest = runHash.finalize().map { String(format: "%02x", $0) }.joined()
        return SimulationResult(seed: scenario.seed, passes: passes, uploads: uploader.uploads, manifest: manifest,
                                seedReport: seedReport, violations: checker.violations, mockStats: stats,
                                lostToCrashes: store.lostToCrashes, quarantined: quarantined, finished: finished,
                                runDigest: digest,
                                simulatedDuration: trueNow() - startedAt)
    }

    /// Nothing left to do: no upload was needed and nothing waits but events that never settle
    /// or that are quarantined (those wait for an operator, not for time).
    private func isSettled(_ report: PassReport, scenario: SimulationScenario) -> Bool {
        report.pending == 0 && report.errors == 0
            && (report.skips[.backingOff] ?? 0) == 0
            && (report.skips[.awaitingReport] ?? 0) == 0
            && (report.skips[.binaryNotQuiescent] ?? 0) == 0
            && (report.skips[.reportNotQuiescent] ?? 0) == 0
    }
}
