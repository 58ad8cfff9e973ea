import ForwarderCore
import ForwarderIO
import ForwarderSimulation
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The state of one soak between its steps: the child, its log, the samples, what broke.
struct SoakRun {
    let options: SoakTestOptions
    let root: String
    let folderPath: String
    let mock: MockSFM
    var statePath: String { root + "/forward.state" }
    var configPath: String { root + "/config.ini" }
    var logPath: String { root + "/run.log" }
    var samples: [SoakSample] = []
    var problems: [String] = []
    var arrivalRounds = 0
    var finalExitStatus: Int32?
    private var child: ForwarderProcess?

    /// The longest the forwarder may go without finishing a pass or sending a request before the
    /// soak calls it stuck: a request ends within its timeout (30 s in the soak's config), and a
    /// pass waits its interval first. Progress, not the pass's length, is bounded: a loaded
    /// machine makes a pass of many uploads long, not silent.
    var passTimeout: Duration { .seconds(120) + options.passInterval }

    init(options: SoakTestOptions, root: String, folderPath: String, mock: MockSFM) {
        self.options = options
        self.root = root
        self.folderPath = folderPath
        self.mock = mock
    }

    /// The forwarder's settings: passes at the soak's interval, short quiescence and grace so
    /// that arrivals are sent (and some reports sent late) within seconds, quick retries.
    func writeConfig(serverURL: String) throws {
        let lines = [
            "[forwarder]",
            "SERIES3_PATH = \(folderPath)",
            "SFM_FORWARD_ENABLED = true",
            "SFM_URL = \(serverURL)",
            "SFM_STATE_FILE = \(statePath)",
            "SFM_FORWARD_INTERVAL_SECONDS = \(options.passInterval.secondsValue)",
            "SFM_QUIESCENCE_SECONDS = 1",
            "SFM_MISSING_REPORT_GRACE_SECONDS = 2",
            "MAX_EVENT_AGE_DAYS = 36500",
            "SFM_HTTP_TIMEOUT_SECONDS = 30",
            "SFM_RETRY_BASE_SECONDS = 1",
            "SFM_RETRY_MAX_SECONDS = 4",
            "SFM_UPLOAD_CONCURRENCY = \(options.uploadConcurrency)",
            "SFM_LOG_FORMAT = json",
        ]
        try (lines.joined(separator: "\n") + "\n").write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// The parent's environment without any forwarder setting: the config file decides.
    var childEnvironment: [String: String] { ForwarderProcess.environment(withoutSettingsBut: [:]) }

    /// Starts the forwarder and samples it after each of `passes` passes.
    ///
    /// The sampling loop runs on a thread of its own: on Swift's cooperative pool it would wake
    /// late whenever other work holds the pool's threads (a test process running many tests),
    /// and passes it sees together share one sample, leaving too few for a verdict.
    mutating func sample(progress: @escaping @Sendable (SoakTestProgress) -> Void) async throws {
        let process = try ForwarderProcess.start(
            executable: options.forwarderExecutable, arguments: ["run", "--config", configPath],
            environment: childEnvironment, logPath: logPath)
        child = process
        let watch = PassWatch(passes: options.passes, passTimeout: passTimeout, logPath: logPath, mock: mock)
        let outcome = await ForwarderProcess.onOwnThread { watch.sample(process, progress: progress) }
        samples += outcome.samples
        problems += outcome.problems
        if outcome.exited { child = nil }
    }

    /// Waits until the server holds every event written with its report and the state records
    /// every binary, then stops the forwarder with SIGTERM, which must end it with status 0.
    mutating func drainAndStop(expected manifest: [ManifestEntry], progress: @Sendable (SoakTestProgress) -> Void) async throws {
        guard let child else { return }
        let expectedDigests = Set(manifest.compactMap(\.digest))
        // A stall, not a slow machine, fails the drain: the limit runs from the last progress.
        var lastProgress = ContinuousClock.now
        var progressMark = (serverEvents: -1, stateRecords: -1)
        var lastShown = ContinuousClock.now
        var drained = false
        while ContinuousClock.now - lastProgress < options.drainTimeout {
            if let status = child.exitStatusIfEnded() {
                problems.append("the forwarder exited by itself with status \(status) while draining: " + CrashRun.logTail(logPath))
                self.child = nil
                return
            }
            let verdict = SoakVerdict(manifest: manifest, mock: mock)
            let stateRecords = (try? FileStateStore(path: statePath, readOnly: true).count) ?? 0
            if mock.eventCount > progressMark.serverEvents || stateRecords > progressMark.stateRecords {
                progressMark = (mock.eventCount, stateRecords)
                lastProgress = ContinuousClock.now
            }
            if verdict.lostEvents == 0, verdict.lostReports == 0, stateRecords >= expectedDigests.count {
                drained = true
                break
            }
            if ContinuousClock.now - lastShown >= .seconds(1) {
                progress(.draining(serverEvents: mock.eventCount, expected: expectedDigests.count))
                lastShown = ContinuousClock.now
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        if !drained {
            problems.append("after the last sampled pass the forwarder made no progress for \(options.drainTimeout) "
                + "before every event with its report was sent")
        }
        let stop = await child.stopGracefully()
        finalExitStatus = stop.exitStatus
        self.child = nil
        progress(.stopped(exitStatus: finalExitStatus))
        if let problem = stop.problem { problems.append(problem) }
    }

    /// Kills the child if one runs; used when the soak itself fails half-way.
    mutating func stopChild() async {
        if let child { _ = await child.killAndReap() }
        child = nil
    }
}

/// Samples a running forwarder from `/proc` after each pass its log reports, blocking.
struct PassWatch: Sendable {
    let passes: Int
    let passTimeout: Duration
    let logPath: String
    let mock: MockSFM

    struct Outcome: Sendable {
        var samples: [SoakSample] = []
        var problems: [String] = []
        /// The forwarder exited by itself (and was reaped).
        var exited = false
    }

    func sample(_ process: ForwarderProcess, progress: @Sendable (SoakTestProgress) -> Void) -> Outcome {
        var outcome = Outcome()
        var log = LogLineReader(path: logPath)
        var lastProgressAt = ContinuousClock.now
        var requestsSeen = mock.stats().requests
        var passesFinished = 0
        while passesFinished < passes {
            if let status = process.exitStatusIfEnded() {
                outcome.problems.append("the forwarder exited by itself with status \(status) after \(passesFinished) passes: "
                    + CrashRun.logTail(logPath))
                outcome.exited = true
                return outcome
            }
            let finishedPasses = log.readLines().filter { $0.contains("\"pass finished\"") }.count
            if finishedPasses == 0 {
                let requests = mock.stats().requests
                if requests != requestsSeen {
                    requestsSeen = requests
                    lastProgressAt = ContinuousClock.now
                }
                if ContinuousClock.now - lastProgressAt > passTimeout {
                    outcome.problems.append("no pass finished and no request reached the server for \(passTimeout) "
                        + "after pass \(passesFinished)")
                    return outcome
                }
                usleep(10_000)
                continue
            }
            lastProgressAt = ContinuousClock.now
            passesFinished += finishedPasses
            guard let resident = ProcessSampler.residentKilobytes(of: process.pid),
                  let descriptors = ProcessSampler.openDescriptors(of: process.pid) else { continue }
            // Passes that finished since the last look share one sample: the process is the same.
            let sample = SoakSample(pass: passesFinished, elapsed: ContinuousClock.now - process.startedAt,
                                    residentKilobytes: resident,
                                    anonymousKilobytes: ProcessSampler.anonymousKilobytes(of: process.pid) ?? 0,
                                    openDescriptors: descriptors, serverEvents: mock.eventCount)
            outcome.samples.append(sample)
            progress(.sampled(sample))
        }
        return outcome
    }
}

/// Events lost, reports lost and re-sends, from what the server holds and its journal.
struct SoakVerdict {
    var lostEvents = 0
    var lostReports = 0
    var duplicates = 0
    var updates = 0
    var responsesLostAfterCommit = 0
    var problems: [String] = []

    init(manifest: [ManifestEntry], mock: MockSFM) {
        let stored = mock.events()
        let byName = Dictionary(stored.map { ($0.binaryName, $0) }, uniquingKeysWith: { first, _ in first })
        // Identical bytes under a second name are uploaded once, under the first name.
        let byDigest = Dictionary(stored.map { ($0.binaryDigest, $0) }, uniquingKeysWith: { first, _ in first })
        var lostEventNames: [String] = []
        var lostReportNames: [String] = []
        for entry in manifest {
            guard let event = byName[entry.binary] ?? byDigest[entry.sha256] else {
                lostEventNames.append(entry.binary)
                continue
            }
            if entry.report != nil, event.reportName == nil { lostReportNames.append(entry.binary) }
        }
        lostEvents = lostEventNames.count
        lostReports = lostReportNames.count
        updates = stored.reduce(0) { $0 + $1.updateCount }
        duplicates = mock.uploadsThatChangedNothing()
        responsesLostAfterCommit = mock.responsesLostAfterCommit()
        if lostEvents > 0 {
            problems.append("\(lostEvents) events never reached the server, e.g. \(lostEventNames.prefix(3).joined(separator: ", "))")
        }
        if lostReports > 0 {
            problems.append("\(lostReports) events are at the server without their report, "
                + "e.g. \(lostReportNames.prefix(3).joined(separator: ", "))")
        }
        if duplicates > responsesLostAfterCommit {
            problems.append("the server saw \(duplicates) uploads that changed nothing, more than the "
                + "\(responsesLostAfterCommit) responses lost after commit")
        }
    }
}

/// The lines a growing log file gained since the last read.
struct LogLineReader {
    let path: String
    private var offset: UInt64 = 0
    private var partial = Data()

    init(path: String) { self.path = path }

    /// Complete lines appended since the last call.
    mutating func readLines() -> [String] {
        guard let handle = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? handle.close() }
        guard (try? handle.seek(toOffset: offset)) != nil, let data = try? handle.readToEnd(), !data.isEmpty else { return [] }
        offset += UInt64(data.count)
        partial.append(data)
        guard let lastNewline = partial.lastIndex(of: UInt8(ascii: "\n")) else { return [] }
        let complete = partial[partial.startIndex...lastNewline]
        partial = Data(partial[partial.index(after: lastNewline)...])
        return String(decoding: complete, as: UTF8.self).split(separator: "\n").map(String.init)
    }
}
