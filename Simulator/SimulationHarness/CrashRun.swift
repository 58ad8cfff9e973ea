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
    var stateUnloadable = false
    private var child: ForwarderProcess?
    private var runCount = 0
    private var aliveTime: Duration = .zero
    private var eventsGainedWhileAlive = 0
    var lastStateRecords = 0
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

    /// The forwarder's settings: every pass quick, every file already settled, retries after a
    /// server fault within seconds, logs as JSON lines.
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
            "SFM_RETRY_BASE_SECONDS = 1",
            "SFM_RETRY_MAX_SECONDS = 4",
            "SFM_LOG_FORMAT = json",
        ]
        try (lines.joined(separator: "\n") + "\n").write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// The parent's environment without any forwarder setting, plus the upload concurrency.
    var childEnvironment: [String: String] {
        ForwarderProcess.environment(withoutSettingsBut: [SettingsResolver.Key.uploadConcurrency.rawValue: "\(options.uploadConcurrency)"])
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

    /// Events the runs so far must have sent before their rate replaces the first guess: an
    /// early kill that met a start-up and a few faulted uploads (two events in 0.6 s) would
    /// otherwise set the next kill minutes away and leave most of the run without kills.
    static let eventsToTrustMeasuredRate = 100

    /// A seeded kill moment: some within the first moments of a start, the rest spread so that
    /// the kills left cover the time the backlog left should take at the rate seen so far.
    private mutating func drawKillDelay(remainingKills: Int, serverEvents: Int) -> Duration {
        if random.chance(options.startupKillShare) {
            return (longestStartup.map { $0 * 1.5 } ?? options.startupWindow) * random.unitInterval()
        }
        let measuredRate = aliveTime > .milliseconds(500) && eventsGainedWhileAlive >= Self.eventsToTrustMeasuredRate
            ? Double(eventsGainedWhileAlive) / aliveTime.secondsValue : options.expectedEventsPerSecond
        let remainingEvents = max(0, expectedDigests.count - serverEvents)
        let meanGap = max(options.minimumKillGap.secondsValue,
                          Double(remainingEvents) / max(measuredRate, 1) / Double(max(1, remainingKills)))
        return .milliseconds(Int64(2 * meanGap * random.unitInterval() * 1000))
    }

    /// Restarts once more, waits until the state records every binary and the run has finished a
    /// pass, then stops the forwarder with SIGTERM, which must end it with status 0.
    mutating func drainAndStop(progress: @Sendable (CrashTestProgress) -> Void) async throws {
        guard !stateUnloadable else { return }
        try startChild()
        guard let child else { return }
        // A stall, not a slow machine, fails the drain: the limit runs from the last new record.
        var lastProgress = ContinuousClock.now
        var recordsAtLastProgress = -1
        var drained = false
        var lastShown = ContinuousClock.now
        while ContinuousClock.now - lastProgress < options.drainTimeout {
            if let status = child.exitStatusIfEnded() {
                problems.append("the final run exited by itself with status \(status): " + Self.logTail(child.logPath))
                self.child = nil
                return
            }
            // Read-only, as `status` reads it beside a running forwarder. The forwarder is done
            // when it has recorded every binary; whether the server has them is the verdict's to say.
            // A SIGTERM must find it running: a pass finished, so its signal handling is in place,
            // even when the runs before it had already recorded everything.
            let stateRecords = (try? FileStateStore(path: statePath, readOnly: true).count) ?? 0
            if stateRecords > recordsAtLastProgress {
                recordsAtLastProgress = stateRecords
                lastProgress = ContinuousClock.now
            }
            if stateRecords >= expectedDigests.count, Self.hasFinishedPass(log: child.logPath) {
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
            problems.append("after the last restart the forwarder recorded nothing new for \(options.drainTimeout) "
                + "with \(expectedDigests.count - max(0, recordsAtLastProgress)) events still unrecorded")
        }
        let stop = await child.stopGracefully()
        finalExitStatus = stop.exitStatus
        self.child = nil
        if let firstStart { forwardingElapsed = ContinuousClock.now - firstStart }
        progress(.stopped(exitStatus: finalExitStatus))
        if let problem = stop.problem { problems.append(problem) }
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
}
