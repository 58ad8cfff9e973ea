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

/// What a crash test is made of: the folder, how often and how hard the forwarder is killed.
public struct CrashTestOptions: Sendable {
    /// Decides the folder and every kill moment.
    public var seed: UInt64
    public var eventCount: Int
    public var killCount: Int
    /// `SFM_UPLOAD_CONCURRENCY` of the forwarder; a kill may cost at most this many re-sends.
    public var uploadConcurrency: Int
    /// The `event-forwarder` executable under test.
    public var forwarderExecutable: String
    public var forwardsPerPassLimit: Int
    public var passInterval: Duration
    /// A first guess of the forwarding rate, which spreads the first kills over the expected run;
    /// later kills use the rate measured so far.
    public var expectedEventsPerSecond: Double
    /// Share of kills aimed at the first moments after a start (process start, state load).
    public var startupKillShare: Double
    /// Those kills land within this window until a start has been timed, then within 1.5 × the
    /// longest time a start took to load the state.
    public var startupWindow: Duration
    /// Share of kills that watch for a compaction (`<state>.tmp` appearing) and land inside it
    /// when one starts before their drawn moment.
    public var compactionKillShare: Double
    /// Kill moments are never drawn from a range narrower than this.
    public var minimumKillGap: Duration
    /// After the last restart, how long the forwarder may go without recording anything new
    /// before the drain counts as stalled (a slow machine still makes progress; a stuck run does not).
    public var drainTimeout: Duration
    /// Where the folder, state, config and logs go, left in place for the caller; when nil, a
    /// new temporary folder removed at the end.
    public var workFolder: String?
    /// What goes wrong at the server meanwhile (the mock's fault plan); none by default.
    public var faultPlan: FaultPlan

    public init(seed: UInt64, eventCount: Int = 20_000, killCount: Int = 20, uploadConcurrency: Int = 4,
                forwarderExecutable: String, forwardsPerPassLimit: Int = 500, passInterval: Duration = .milliseconds(200),
                expectedEventsPerSecond: Double = 1000, startupKillShare: Double = 0.2,
                startupWindow: Duration = .milliseconds(100), compactionKillShare: Double = 0.25, minimumKillGap: Duration = .milliseconds(300),
                drainTimeout: Duration = .seconds(600), workFolder: String? = nil, faultPlan: FaultPlan = .none) {
        self.faultPlan = faultPlan
        self.seed = seed
        self.eventCount = eventCount
        self.killCount = killCount
        self.uploadConcurrency = uploadConcurrency
        self.forwarderExecutable = forwarderExecutable
        self.forwardsPerPassLimit = forwardsPerPassLimit
        self.passInterval = passInterval
        self.expectedEventsPerSecond = expectedEventsPerSecond
        self.startupKillShare = startupKillShare
        self.startupWindow = startupWindow
        self.compactionKillShare = compactionKillShare
        self.minimumKillGap = minimumKillGap
        self.drainTimeout = drainTimeout
        self.workFolder = workFolder
    }
}

/// Where the forwarder was when a kill landed, as its log and state files tell.
public enum CrashPhase: String, Sendable, CaseIterable {
    /// Before it logged `state loaded`: process start or state load.
    case startup = "starting"
    /// After `state loaded` or an upload, before the pass ended.
    case pass = "in a pass"
    /// After `pass finished`: sleeping, or listing and planning the next pass.
    case betweenPasses = "between passes"
}

/// One SIGKILL and what the state looked like afterwards.
public struct CrashKill: Sendable {
    public var number: Int
    /// Time from the start of the process to the kill.
    public var delay: Duration
    public var phase: CrashPhase
    /// The kill watched for a compaction to start.
    public var aimedAtCompaction: Bool
    /// A new `<state>.tmp` was left behind: the kill landed inside a compaction's snapshot write.
    public var duringCompaction: Bool
    /// The journal ended in a torn line that the next load dropped.
    public var tornJournalBytes: Int
    /// Records in the state after the kill, or nil when it did not load.
    public var stateRecords: Int?
    public var serverEvents: Int
}

/// Something the crash test saw as it went.
public enum CrashTestProgress: Sendable {
    case generating(written: Int, total: Int)
    case generated(GenerationSummary, elapsed: Duration)
    case serverStarted(url: String)
    case killed(CrashKill)
    case draining(serverEvents: Int, stateRecords: Int, expected: Int)
    case stopped(exitStatus: Int32?)
}

/// What a crash test found, and its verdict.
public struct CrashTestResult: Sendable {
    public var seed: UInt64
    public var eventCount: Int
    /// Distinct binaries in the folder: what the state must hold at the end.
    public var expectedRecords: Int
    public var uploadConcurrency: Int
    public var kills: [CrashKill]
    /// Uploads the server saw of a binary it already held.
    public var duplicates: Int
    /// Events the server never received.
    public var lostEvents: Int
    /// Events the server holds without the report the folder has for them.
    public var lostReports: Int
    public var finalStateRecords: Int?
    public var serverRequests: Int
    /// The exit status of the final SIGTERM-stopped run (nil when it did not stop).
    public var finalExitStatus: Int32?
    /// Every rule the run broke; empty when it passed.
    public var problems: [String]
    public var generationElapsed: Duration
    /// From the first start of the forwarder to its final stop.
    public var forwardingElapsed: Duration
    public var elapsed: Duration

    /// Answers the fault plan dropped after the server stored the upload, from its journal.
    public var responsesLostAfterCommit: Int
    /// Requests whose answer the fault plan decided.
    public var faultedRequests: Int

    /// Each kill may cost the uploads in flight, each lost answer one more upload.
    public var duplicateLimit: Int { kills.count * uploadConcurrency + responsesLostAfterCommit }
    public var passed: Bool { problems.isEmpty }

    public func killCount(in phase: CrashPhase) -> Int { kills.filter { $0.phase == phase }.count }
}

/// The real `event-forwarder run` as a process against the mock SFM on 127.0.0.1 over a
/// generated folder, killed with SIGKILL at seeded moments and restarted, then checked.
///
/// The forwarder records an event only after the server accepted it and appends each record
/// with one `write`, so a SIGKILL may cost at most the uploads in flight (each sent again after
/// the restart) and must never lose a record or leave a state that does not load. After every
/// kill the state is loaded read-only and compared with the server: it must load, hold no fewer
/// records than before and hold nothing the server lacks. At the end every event must be at the
/// server with its report, the state must hold exactly the folder's binaries, and the re-sends
/// the server saw must be at most kills × concurrency.
public struct CrashTest: Sendable {
    public let options: CrashTestOptions

    public init(_ options: CrashTestOptions) { self.options = options }

    public func run(progress: @Sendable (CrashTestProgress) -> Void = { _ in }) async throws -> CrashTestResult {
        let startedAt = ContinuousClock.now
        let root = try options.workFolder ?? Self.makeTemporaryFolder()
        defer { if options.workFolder == nil { try? FileManager.default.removeItem(atPath: root) } }
        let folderPath = root + "/autocall home"
        let statePath = root + "/forward.state"
        try FileManager.default.createDirectory(atPath: folderPath, withIntermediateDirectories: true)

        let now = FileTime(Date())
        let plan = FolderPlanner.plan(
            FolderGenerationOptions(seed: options.seed, profile: .mixed, eventCount: options.eventCount, startTime: now),
            endingAt: now - .seconds(120))
        let total = max(1, plan.events.count)
        let (summary, manifest) = try DirectoryFolderWriter(directoryPath: folderPath).writeHistory(plan) { written in
            progress(.generating(written: written, total: total))
        }
        let generationElapsed = ContinuousClock.now - startedAt
        progress(.generated(summary, elapsed: generationElapsed))

        let server = try await MockSFMServer.start(
            configuration: MockSFM.Configuration(journalCapacity: Self.journalCapacity(for: options), seed: options.seed,
                                                 retainsReportText: false),
            faultPlan: options.faultPlan)
        progress(.serverStarted(url: server.baseURL))
        var run = CrashRun(options: options, root: root, statePath: statePath, mock: server.mock,
                           expectedDigests: Set(manifest.compactMap(\.digest)))
        let outcome: Result<Void, any Error>
        do {
            try run.writeConfig(folderPath: folderPath, serverURL: server.baseURL)
            try await run.killAndRestart(progress: progress)
            try await run.drainAndStop(progress: progress)
            try await run.checkStatusCommand()
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        await run.stopChild()
        try await server.shutdown()
        try outcome.get()

        let verdict = run.verdict(manifest: manifest)
        return CrashTestResult(
            seed: options.seed, eventCount: manifest.count, expectedRecords: run.expectedDigests.count,
            uploadConcurrency: options.uploadConcurrency, kills: run.kills, duplicates: verdict.duplicates,
            lostEvents: verdict.lostEvents, lostReports: verdict.lostReports, finalStateRecords: run.finalStateRecords,
            serverRequests: server.mock.stats().requests, finalExitStatus: run.finalExitStatus,
            problems: run.problems + verdict.problems, generationElapsed: generationElapsed,
            forwardingElapsed: run.forwardingElapsed, elapsed: ContinuousClock.now - startedAt,
            responsesLostAfterCommit: verdict.responsesLostAfterCommit, faultedRequests: server.mock.stats().faultedRequests)
    }

    /// With faults, the journal must hold every request to count the answers lost after commit.
    static func journalCapacity(for options: CrashTestOptions) -> Int {
        options.faultPlan.rules.isEmpty ? 1000 : 10_000_000
    }

    /// A new, empty folder under the system's temporary folder.
    public static func makeTemporaryFolder() throws -> String {
        let temporary = NSTemporaryDirectory().hasSuffix("/") ? NSTemporaryDirectory() : NSTemporaryDirectory() + "/"
        var template = Array((temporary + "forwarder-crash-XXXXXX").utf8CString)
        guard let created = mkdtemp(&template) else {
            throw ForwarderProcessError(detail: "cannot create a temporary folder: \(String(cString: strerror(errno)))")
        }
        return String(cString: created)
    }
}
