import ForwarderCore
import ForwarderIO
import ForwarderSimulation
import Foundation
import MockSFMServer
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a soak is made of: how long, how fast, what arrives and what goes wrong at the server.
public struct SoakTestOptions: Sendable {
    /// Decides the backlog, the arrivals and the faults' draws.
    public var seed: UInt64
    /// Passes sampled; the verdict needs the warm-up and two windows of them.
    public var passes: Int
    public var passInterval: Duration
    /// The `event-forwarder` executable under test.
    public var forwarderExecutable: String
    /// Events already in the folder when the forwarder starts.
    public var backlogEvents: Int
    /// Events in each round of arrivals.
    public var eventsPerRound: Int
    /// How many times faster than real time arrivals are written.
    public var arrivalSpeed: Double
    /// Simulated quiet between two arriving writes is cut to this (before `arrivalSpeed`).
    public var arrivalQuietGap: Duration
    public var faultPlan: FaultPlan
    public var uploadConcurrency: Int
    public var growthRule: SoakGrowthRule
    /// After the last sampled pass, how long the forwarder may go without progress (events at the
    /// server, records in its state) before the drain counts as stalled.
    public var drainTimeout: Duration
    /// Where the folder, state, config and log go, left in place; a new temporary folder
    /// removed at the end when nil.
    public var workFolder: String?

    public init(seed: UInt64, passes: Int, passInterval: Duration = .seconds(1), forwarderExecutable: String,
                backlogEvents: Int = 300, eventsPerRound: Int = 10, arrivalSpeed: Double = 4,
                arrivalQuietGap: Duration = .seconds(20), faultPlan: FaultPlan? = nil, uploadConcurrency: Int = 2,
                growthRule: SoakGrowthRule = SoakGrowthRule(), drainTimeout: Duration = .seconds(300),
                workFolder: String? = nil) {
        self.seed = seed
        self.passes = passes
        self.passInterval = passInterval
        self.forwarderExecutable = forwarderExecutable
        self.backlogEvents = backlogEvents
        self.eventsPerRound = eventsPerRound
        self.arrivalSpeed = arrivalSpeed
        self.arrivalQuietGap = arrivalQuietGap
        self.faultPlan = faultPlan ?? Self.lightFaults(seed: seed)
        self.uploadConcurrency = uploadConcurrency
        self.growthRule = growthRule
        self.drainTimeout = drainTimeout
        self.workFolder = workFolder
    }

    /// The soak's default faults: a few resets and 503s before storing, a few responses lost
    /// after the server committed, and short delays on one answer in ten, all well inside the
    /// forwarder's request timeout so that no delay becomes a lost response.
    public static func lightFaults(seed: UInt64) -> FaultPlan {
        FaultPlan(seed: seed, rules: [
            FaultRule(name: "reset", fault: .connectionReset, probability: 0.01),
            FaultRule(name: "busy", fault: .httpStatus(code: 503, retryAfterSeconds: 1), probability: 0.01),
            FaultRule(name: "lost-after-commit", fault: .closeWithoutResponse, probability: 0.005, afterStore: true),
            FaultRule(name: "slow", fault: .delay(.logNormal(median: .milliseconds(20), percentile95: .milliseconds(300))),
                      probability: 0.1),
        ])
    }
}

/// Something the soak saw as it went.
public enum SoakTestProgress: Sendable {
    case backlogWritten(events: Int)
    case serverStarted(url: String)
    case sampled(SoakSample)
    case draining(serverEvents: Int, expected: Int)
    case stopped(exitStatus: Int32?)
}

/// What a soak found, and its verdict.
public struct SoakTestResult: Sendable {
    public var seed: UInt64
    public var samples: [SoakSample]
    public var resident: SoakGrowth?
    public var descriptors: SoakGrowth?
    /// Events written: the backlog and every finished round of arrivals.
    public var events: Int
    public var arrivalRounds: Int
    public var lostEvents: Int
    public var lostReports: Int
    /// Uploads of a binary the server already held that changed nothing there.
    public var duplicates: Int
    /// Answers the fault plan dropped after the server stored the upload: each may be sent again.
    public var responsesLostAfterCommit: Int
    /// Reports the server attached to an event it already held: the late reports sent.
    public var updates: Int
    public var stats: MockStats
    public var finalExitStatus: Int32?
    public var problems: [String]
    public var elapsed: Duration

    public var passed: Bool { problems.isEmpty }
}

/// The real `event-forwarder run` as a process against the mock SFM on 127.0.0.1, for a given
/// number of passes over a live folder, its resident memory and open descriptors sampled after
/// every pass (a `pass finished` line of its JSON log), then drained, stopped and checked.
///
/// A leak in a process that runs for years shows as steady growth long before it hurts; the
/// rule (`SoakGrowthRule`) compares the start and end of the run after a warm-up. Along the way
/// the usual promises must hold: every event at the server with its report, and no upload sent
/// twice except after an answer the fault plan dropped after the server committed.
public struct SoakTest: Sendable {
    public let options: SoakTestOptions

    public init(_ options: SoakTestOptions) { self.options = options }

    public func run(progress: @escaping @Sendable (SoakTestProgress) -> Void = { _ in }) async throws -> SoakTestResult {
        let startedAt = ContinuousClock.now
        let root = try options.workFolder ?? CrashTest.makeTemporaryFolder()
        defer { if options.workFolder == nil { try? FileManager.default.removeItem(atPath: root) } }
        let folderPath = root + "/autocall home"
        try FileManager.default.createDirectory(atPath: folderPath, withIntermediateDirectories: true)

        let now = FileTime(Date())
        var backlog: [ManifestEntry] = []
        if options.backlogEvents > 0 {
            let plan = FolderPlanner.plan(
                FolderGenerationOptions(seed: options.seed, profile: .mixed, eventCount: options.backlogEvents, startTime: now),
                endingAt: now - .seconds(120))
            backlog = try DirectoryFolderWriter(directoryPath: folderPath).writeHistory(plan).manifest
        }
        progress(.backlogWritten(events: backlog.count))

        let server = try await MockSFMServer.start(
            configuration: MockSFM.Configuration(journalCapacity: 10_000_000, seed: options.seed, retainsReportText: false),
            faultPlan: options.faultPlan)
        progress(.serverStarted(url: server.baseURL))
        let arrivals = SoakArrivals(folderPath: folderPath, seed: options.seed, eventsPerRound: options.eventsPerRound,
                                    speed: options.arrivalSpeed, maximumQuietGap: options.arrivalQuietGap)
        var run = SoakRun(options: options, root: root, folderPath: folderPath, mock: server.mock)
        let writing = Task { try await arrivals.run(startingAt: now) }
        let outcome: Result<Void, any Error>
        do {
            try run.writeConfig(serverURL: server.baseURL)
            try await run.sample(progress: progress)
            arrivals.stop()
            let rounds = try await writing.value
            run.arrivalRounds = rounds
            try await run.drainAndStop(expected: backlog + arrivals.manifest, progress: progress)
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        arrivals.stop()
        writing.cancel()
        await run.stopChild()
        try await server.shutdown()
        try outcome.get()

        let manifest = backlog + arrivals.manifest
        let verdict = SoakVerdict(manifest: manifest, mock: server.mock)
        var problems = run.problems + verdict.problems
        let growth = options.growthRule.assess(run.samples)
        if let growth {
            let measures = [("resident memory (kB)", growth.resident), ("open descriptors", growth.descriptors)]
            for (name, measure) in measures where !measure.withinAllowance {
                problems.append("\(name) grew from a median of \(Self.number(measure.baseline)) after warm-up to "
                    + "\(Self.number(measure.end)) at the end (+\(Self.number(measure.growthPercent)) %), "
                    + "more than the \(Self.number(measure.allowance)) allowed")
            }
        } else {
            problems.append("\(run.samples.count) samples are too few for a verdict: "
                + "\(options.growthRule.minimumSampleCount(forPasses: options.passes)) needed")
        }
        return SoakTestResult(
            seed: options.seed, samples: run.samples, resident: growth?.resident, descriptors: growth?.descriptors,
            events: manifest.count, arrivalRounds: run.arrivalRounds, lostEvents: verdict.lostEvents,
            lostReports: verdict.lostReports, duplicates: verdict.duplicates,
            responsesLostAfterCommit: verdict.responsesLostAfterCommit, updates: verdict.updates,
            stats: server.mock.stats(), finalExitStatus: run.finalExitStatus, problems: problems,
            elapsed: ContinuousClock.now - startedAt)
    }

    /// A whole number without decimals, anything else with one.
    public static func number(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e12 ? String(Int(value)) : String(format: "%.1f", value)
    }
}
