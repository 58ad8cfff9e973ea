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
    /// After the last restart, how long the forwarder may take to send and record the rest.
    public var drainTimeout: Duration
    /// Where the folder, state, config and logs go, left in place for the caller; when nil, a
    /// new temporary folder removed at the end.
    public var workFolder: String?

    public init(seed: UInt64, eventCount: Int = 20_000, killCount: Int = 20, uploadConcurrency: Int = 4,
                forwarderExecutable: String, forwardsPerPassLimit: Int = 500, passInterval: Duration = .milliseconds(200),
                expectedEventsPerSecond: Double = 1000, startupKillShare: Double = 0.2,
                startupWindow: Duration = .milliseconds(100), compactionKillShare: Double = 0.25, minimumKillGap: Duration = .milliseconds(300),
                drainTimeout: Duration = .seconds(600), workFolder: String? = nil) {
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

    public var duplicateLimit: Int { kills.count * uploadConcurrency }
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
            configuration: MockSFM.Configuration(journalCapacity: 1000, seed: options.seed, retainsReportText: false))
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
            forwardingElapsed: run.forwardingElapsed, elapsed: ContinuousClock.now - startedAt)
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

/// The state of one crash test between its steps: the child, the kills so far, what broke.
struct CrashRun {
    let options: CrashTestOptions
    let root: String
    let statePath: String
    let mock: MockSFM
    let expectedDigests: Set<EventDigest>
    var configPath: String { root + "/config.ini" }
    var kills: [CrashKill] = []
    var problems: [String] = []
    var finalStateRecords: Int?
    var finalExitStatus: Int32?
    var forwardingElapsed: Duration = .zero
    /// A kill left a state that does not load: nothing after it can be checked.
    private(set) var stateUnloadable = false
    private var child: ForwarderProcess?
    private var runCount = 0
    private var aliveTime: Duration = .zero
    private var eventsGainedWhileAlive = 0
    private var lastStateRecords = 0
    private var random: SeededRandom
    private var firstStart: ContinuousClock.Instant?
    /// The longest time from a start to `state loaded` seen so far.
    private var longestStartup: Duration?

    init(options: CrashTestOptions, root: String, statePath: String, mock: MockSFM, expectedDigests: Set<EventDigest>) {
        self.options = options
        self.root = root
        self.statePath = statePath
        self.mock = mock
        self.expectedDigests = expectedDigests
        random = SeededRandom(seed: options.seed).derived("crash-kills")
    }

    /// The forwarder's settings: every pass quick, every file already settled, logs as JSON lines.
    func writeConfig(folderPath: String, serverURL: String) throws {
        let lines = [
            "[forwarder]",
            "SERIES3_PATH = \(folderPath)",
            "SFM_FORWARD_ENABLED = true",
            "SFM_URL = \(serverURL)",
            "SFM_STATE_FILE = \(statePath)",
            "SFM_FORWARD_INTERVAL_SECONDS = \(options.passInterval.secondsValue)",
            "SFM_MAX_FORWARDS_PER_PASS = \(options.forwardsPerPassLimit)",
            "SFM_QUIESCENCE_SECONDS = 1",
            "SFM_MISSING_REPORT_GRACE_SECONDS = 1",
            "MAX_EVENT_AGE_DAYS = 36500",
            "SFM_HTTP_TIMEOUT_SECONDS = 60",
            "SFM_LOG_FORMAT = json",
        ]
        try (lines.joined(separator: "\n") + "\n").write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// The parent's environment without any forwarder setting, plus the upload concurrency.
    var childEnvironment: [String: String] {
        let known = Set(SettingsResolver.Key.allCases.map(\.rawValue))
        var environment = ProcessInfo.processInfo.environment.filter { !known.contains($0.key) }
        environment[SettingsResolver.Key.uploadConcurrency.rawValue] = "\(options.uploadConcurrency)"
        return environment
    }

    mutating func startChild() throws {
        runCount += 1
        let process = try ForwarderProcess.start(
            executable: options.forwarderExecutable, arguments: ["run", "--config", configPath],
            environment: childEnvironment, logPath: root + "/run-\(runCount).log")
        if firstStart == nil { firstStart = process.startedAt }
        child = process
    }

    /// Kills the child if one runs; used when the test itself fails half-way.
    mutating func stopChild() async {
        if let child { _ = await child.killAndReap() }
        child = nil
    }

    /// `killCount` times: start, wait a seeded moment, SIGKILL, check the state.
    mutating func killAndRestart(progress: @Sendable (CrashTestProgress) -> Void) async throws {
        guard options.killCount > 0 else { return }
        for number in 1...options.killCount {
            let compactionFileBefore = Self.fileIdentity(statePath + ".tmp")
            let serverEventsBefore = mock.eventCount
            try startChild()
            guard let child else { return }
            let delay = drawKillDelay(remainingKills: options.killCount - number + 1, serverEvents: serverEventsBefore)
            let aimedAtCompaction = random.chance(options.compactionKillShare)
            if aimedAtCompaction {
                while ContinuousClock.now < child.startedAt + delay,
                      Self.fileIdentity(statePath + ".tmp") == compactionFileBefore {
                    try await Task.sleep(for: .milliseconds(1))
                }
            } else {
                try await Task.sleep(until: child.startedAt + delay, clock: .continuous)
            }
            if let status = child.exitStatusIfEnded() {
                problems.append("run \(runCount) exited by itself with status \(status) before kill \(number): "
                    + Self.logTail(child.logPath))
            }
            _ = await child.killAndReap()
            let killedAfter = ContinuousClock.now - child.startedAt
            self.child = nil
            let serverEvents = mock.eventCount
            aliveTime += killedAfter
            eventsGainedWhileAlive += max(0, serverEvents - serverEventsBefore)

            let compactionFileAfter = Self.fileIdentity(statePath + ".tmp")
            if let startup = Self.startupDuration(ofLog: child.logPath, startedAt: child.startedAtWallClock) {
                longestStartup = max(longestStartup ?? .zero, startup)
            }
            let duringCompaction = compactionFileAfter != nil && compactionFileAfter != compactionFileBefore
            var kill = CrashKill(number: number, delay: killedAfter, phase: Self.phase(ofLog: child.logPath),
                                 aimedAtCompaction: aimedAtCompaction, duringCompaction: duringCompaction,
                                 tornJournalBytes: 0, stateRecords: nil, serverEvents: serverEvents)
            checkState(after: &kill)
            kills.append(kill)
            progress(.killed(kill))
            if stateUnloadable { return }
        }
    }

    /// A seeded kill moment: some within the first moments of a start, the rest spread so that
    /// the kills left cover the time the backlog left should take at the rate seen so far.
    private mutating func drawKillDelay(remainingKills: Int, serverEvents: Int) -> Duration {
        if random.chance(options.startupKillShare) {
            return (longestStartup.map { $0 * 1.5 } ?? options.startupWindow) * random.unitInterval()
        }
        let measuredRate = aliveTime > .milliseconds(500) && eventsGainedWhileAlive > 0
            ? Double(eventsGainedWhileAlive) / aliveTime.secondsValue : options.expectedEventsPerSecond
        let remainingEvents = max(0, expectedDigests.count - serverEvents)
        let meanGap = max(options.minimumKillGap.secondsValue,
                          Double(remainingEvents) / max(measuredRate, 1) / Double(max(1, remainingKills)))
        return .milliseconds(Int64(2 * meanGap * random.unitInterval() * 1000))
    }

    /// Loads the state read-only as `status` does and compares it with the server; a state
    /// that does not load ends the test.
    private mutating func checkState(after kill: inout CrashKill) {
        let store: FileStateStore
        do {
            store = try FileStateStore(path: statePath, readOnly: true)
        } catch {
            problems.append("after kill \(kill.number) the state does not load: \(error)")
            stateUnloadable = true
            return
        }
        let records = store.allRecords()
        kill.stateRecords = records.count
        kill.tornJournalBytes = store.loadSummary.tornTailBytes
        if records.count < lastStateRecords {
            problems.append("after kill \(kill.number) the state holds \(records.count) records, "
                + "fewer than the \(lastStateRecords) it held before: a kill lost records")
        }
        lastStateRecords = max(lastStateRecords, records.count)
        let atServer = Set(mock.events().map(\.binaryDigest))
        let unaccepted = records.filter { !atServer.contains($0.digest.hex) }
        if let first = unaccepted.first {
            problems.append("after kill \(kill.number) the state holds \(unaccepted.count) records the server never "
                + "received, e.g. \(first.fileName): recorded before the server accepted")
        }
        let foreign = records.filter { !expectedDigests.contains($0.digest) }
        if let first = foreign.first {
            problems.append("after kill \(kill.number) the state holds \(foreign.count) digests that are not in the folder, "
                + "e.g. \(first.fileName)")
        }
    }

    /// Restarts once more, waits until the state records every binary, then stops the
    /// forwarder with SIGTERM, which must end it with status 0.
    mutating func drainAndStop(progress: @Sendable (CrashTestProgress) -> Void) async throws {
        guard !stateUnloadable else { return }
        try startChild()
        guard let child else { return }
        let deadline = ContinuousClock.now + options.drainTimeout
        var drained = false
        var lastShown = ContinuousClock.now
        while ContinuousClock.now < deadline {
            if let status = child.exitStatusIfEnded() {
                problems.append("the final run exited by itself with status \(status): " + Self.logTail(child.logPath))
                self.child = nil
                return
            }
            // Read-only, as `status` reads it beside a running forwarder. The forwarder is done
            // when it has recorded every binary; whether the server has them is the verdict's to say.
            let stateRecords = (try? FileStateStore(path: statePath, readOnly: true).count) ?? 0
            if stateRecords >= expectedDigests.count {
                drained = true
                break
            }
            if ContinuousClock.now - lastShown >= .seconds(1) {
                progress(.draining(serverEvents: mock.eventCount, stateRecords: stateRecords, expected: expectedDigests.count))
                lastShown = ContinuousClock.now
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        if !drained {
            problems.append("the forwarder did not send and record every event within \(options.drainTimeout) "
                + "after the last restart")
        }
        child.send(SIGTERM)
        finalExitStatus = await child.waitForExit(timeout: .seconds(60))
        self.child = nil
        if let firstStart { forwardingElapsed = ContinuousClock.now - firstStart }
        progress(.stopped(exitStatus: finalExitStatus))
        if finalExitStatus == nil {
            _ = await child.killAndReap()
            problems.append("SIGTERM did not stop the forwarder within 60 s")
        } else if finalExitStatus != 0 {
            problems.append("SIGTERM ended the forwarder with status \(finalExitStatus!), not 0: " + Self.logTail(child.logPath))
        }
        do {
            let store = try FileStateStore(path: statePath, readOnly: true)
            let digests = Set(store.allRecords().map(\.digest))
            finalStateRecords = digests.count
            if digests != expectedDigests {
                problems.append("the final state holds \(digests.count) binaries, \(digests.subtracting(expectedDigests).count) "
                    + "not in the folder and \(expectedDigests.subtracting(digests).count) missing; the folder has "
                    + "\(expectedDigests.count)")
            }
        } catch {
            problems.append("the final state does not load: \(error)")
        }
    }

    /// `event-forwarder status --json`, the operator's view, must load the state and count it.
    mutating func checkStatusCommand() async throws {
        guard !stateUnloadable else { return }
        let outputPath = root + "/status.json"
        let process = try ForwarderProcess.start(
            executable: options.forwarderExecutable, arguments: ["status", "--json", "--config", configPath],
            environment: childEnvironment, logPath: outputPath, errorPath: root + "/status.log")
        let status = await process.waitForExit(timeout: .seconds(120))
        guard status == 0 else {
            if status == nil { _ = await process.killAndReap() }
            problems.append("event-forwarder status --json ended with \(status.map { "status \($0)" } ?? "no exit in 120 s"): "
                + Self.logTail(root + "/status.log"))
            return
        }
        guard let reply = try? JSONDecoder().decode(ForwarderStatus.self, from: Data(contentsOf: URL(fileURLWithPath: outputPath))) else {
            problems.append("event-forwarder status --json printed no status: " + Self.logTail(outputPath))
            return
        }
        if let finalStateRecords, reply.recordedEvents != finalStateRecords {
            problems.append("event-forwarder status counts \(reply.recordedEvents) records, the state holds \(finalStateRecords)")
        }
    }

    /// Events lost, reports lost and re-sends, from what the server holds.
    func verdict(manifest: [ManifestEntry]) -> (lostEvents: Int, lostReports: Int, duplicates: Int, problems: [String]) {
        let stored = mock.events()
        let byName = Dictionary(stored.map { ($0.binaryName, $0) }, uniquingKeysWith: { first, _ in first })
        // Identical bytes under a second name are uploaded once, under the first name.
        let byDigest = Dictionary(stored.map { ($0.binaryDigest, $0) }, uniquingKeysWith: { first, _ in first })
        var lostEvents: [String] = []
        var lostReports: [String] = []
        for entry in manifest {
            guard let event = byName[entry.binary] ?? byDigest[entry.sha256] else {
                lostEvents.append(entry.binary)
                continue
            }
            if entry.report != nil, event.reportName == nil { lostReports.append(entry.binary) }
        }
        let duplicates = stored.reduce(0) { $0 + max(0, $1.uploadCount - 1) }
        var problems: [String] = []
        if !lostEvents.isEmpty {
            problems.append("\(lostEvents.count) events never reached the server, e.g. \(lostEvents.prefix(3).joined(separator: ", "))")
        }
        if !lostReports.isEmpty {
            problems.append("\(lostReports.count) events are at the server without their report, "
                + "e.g. \(lostReports.prefix(3).joined(separator: ", "))")
        }
        let limit = kills.count * options.uploadConcurrency
        if duplicates > limit {
            problems.append("the server saw \(duplicates) re-sends, more than kills × concurrency = \(limit)")
        }
        return (lostEvents.count, lostReports.count, duplicates, problems)
    }

    /// Where the forwarder was when it died: its last JSON log line says.
    static func phase(ofLog path: String) -> CrashPhase {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), text.contains("\"state loaded\"") else {
            return .startup
        }
        let lastMessage = text.split(separator: "\n").reversed().lazy.compactMap { line -> String? in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return object["message"] as? String
        }.first
        return lastMessage == "pass finished" ? .betweenPasses : .pass
    }

    /// Time from `startedAt` to the `state loaded` line of a log, when it has one.
    static func startupDuration(ofLog path: String, startedAt: Date) -> Duration? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.contains("\"state loaded\"") }),
              let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let time = object["time"] as? String else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let loadedAt = formatter.date(from: time) else { return nil }
        return .milliseconds(Int64(max(0, loadedAt.timeIntervalSince(startedAt)) * 1000))
    }

    /// The last lines of a log, for a failure message.
    static func logTail(_ path: String) -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(3).joined(separator: " | ")
    }

    /// Inode, size and modification time of a file, or nil when it does not exist.
    static func fileIdentity(_ path: String) -> [Int64]? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return [Int64(info.st_ino), Int64(info.st_size), Int64(info.st_mtim.tv_sec), Int64(info.st_mtim.tv_nsec)]
    }
}
