import ForwarderCore
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a forwarder process could not be started.
public struct ForwarderProcessError: Error, CustomStringConvertible, Sendable {
    public var detail: String

    public var description: String { detail }
}

/// The real `event-forwarder` as a child process, its output in a file, ended by a signal.
///
/// Spawned with `posix_spawn` rather than `Foundation.Process` so that the child starts with an
/// empty signal mask and default dispositions whatever threads of this process block (the
/// forwarder must see SIGTERM as production does), and so that standard output and error go
/// straight to a file the crash test reads after each kill.
final class ForwarderProcess: Sendable {
    let pid: pid_t
    let logPath: String
    let startedAt: ContinuousClock.Instant
    /// The start on the wall clock, which the forwarder's log times are on.
    let startedAtWallClock: Date
    private let reapedStatus = Mutex<Int32?>(nil)

    private init(pid: pid_t, logPath: String, startedAt: ContinuousClock.Instant, startedAtWallClock: Date) {
        self.pid = pid
        self.logPath = logPath
        self.startedAt = startedAt
        self.startedAtWallClock = startedAtWallClock
    }

    /// Starts `executable` with exactly `environment`, appending its standard output and error
    /// to `logPath` (its error to `errorPath` when given), with standard input from `/dev/null`.
    static func start(executable: String, arguments: [String], environment: [String: String],
                      logPath: String, errorPath: String? = nil) throws -> ForwarderProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        if let errorPath {
            posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        } else {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaulted = sigset_t()
        sigemptyset(&defaulted)
        for signal in [SIGTERM, SIGINT, SIGPIPE, SIGHUP] { sigaddset(&defaulted, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaulted)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.sorted { $0.key < $1.key }
            .map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid = pid_t()
        let startedAt = ContinuousClock.now
        let startedAtWallClock = Date()
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw ForwarderProcessError(detail: "cannot start \(executable): \(String(cString: strerror(result)))")
        }
        return ForwarderProcess(pid: pid, logPath: logPath, startedAt: startedAt, startedAtWallClock: startedAtWallClock)
    }

    /// This process's environment without any forwarder setting, so the config file the harness
    /// writes decides, plus `overrides`.
    static func environment(withoutSettingsBut overrides: [String: String] = [:]) -> [String: String] {
        let known = Set(SettingsResolver.Key.allCases.map(\.rawValue))
        return ProcessInfo.processInfo.environment.filter { !known.contains($0.key) }.merging(overrides) { _, override in override }
    }

    /// Runs blocking `work` (watching a child, reading its log) on a thread of its own, so that
    /// it neither waits for nor holds a thread of Swift's cooperative pool.
    static func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: work()) }.start()
        }
    }

    /// Sends `signal` to the process unless it has already been reaped (its pid may be reused).
    func send(_ signal: Int32) {
        reapedStatus.withLock { reaped in
            if reaped == nil { _ = kill(pid, signal) }
        }
    }

    /// The exit status if the process has ended (reaping it), else nil; 128 + the signal
    /// number when a signal ended it.
    func exitStatusIfEnded() -> Int32? {
        reapedStatus.withLock { reaped in
            if let reaped { return reaped }
            var status: Int32 = 0
            guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
            let signal = status & 0x7f
            reaped = signal == 0 ? (status >> 8) & 0xff : 128 + signal
            return reaped
        }
    }

    /// Waits up to `timeout` for the process to end; its exit status, or nil when it still runs.
    func waitForExit(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let status = exitStatusIfEnded() { return status }
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// SIGTERM, then up to 60 s for the process to end (SIGKILL after that): its exit status,
    /// nil when it had to be killed, and what was wrong with how it ended, if anything.
    func stopGracefully() async -> (exitStatus: Int32?, problem: String?) {
        send(SIGTERM)
        guard let status = await waitForExit(timeout: .seconds(60)) else {
            _ = await killAndReap()
            return (nil, "SIGTERM did not stop the forwarder within 60 s")
        }
        return (status, status == 0 ? nil : "SIGTERM ended the forwarder with status \(status), not 0: " + CrashRun.logTail(logPath))
    }

    /// SIGKILL, then waits for the process to be reaped; its exit status (137 when the kill ended it).
    func killAndReap() async -> Int32 {
        send(SIGKILL)
        return await waitForExit(timeout: .seconds(60)) ?? 137
    }
}
