import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What one child process cost: its exit status, wall time and peak resident memory.
public struct ChildProcessResult: Hashable, Sendable {
    /// The exit code, or 128 + the signal number when a signal ended it.
    public var exitStatus: Int32
    public var elapsed: Duration
    /// `ru_maxrss` of this child alone, in kilobytes (Linux reports kilobytes).
    public var peakResidentKilobytes: Int
}

/// Why a child process could not be started or did not succeed.
public struct ChildProcessError: Error, CustomStringConvertible, Sendable {
    public var commandLine: String
    public var detail: String

    public init(commandLine: String, detail: String) {
        self.commandLine = commandLine
        self.detail = detail
    }

    public var description: String { "\(commandLine): \(detail)" }
}

/// Runs machine tools and the forwarder's own executable for the comparison.
///
/// Uses `posix_spawn` and `wait4` instead of `Foundation.Process` because `wait4` returns the
/// resource usage of exactly this child, so its peak RSS is not mixed with other children's
/// (`getrusage(RUSAGE_CHILDREN)` keeps the maximum over all of them).
public enum ChildProcess {
    /// Runs `script` with `/bin/sh -c`, passing `arguments` as `$1`, `$2`, … so that paths need
    /// no quoting; standard output and error are inherited, so scripts redirect what they do not
    /// want printed.
    public static func shell(_ script: String, arguments: [String] = []) throws -> ChildProcessResult {
        try run("/bin/sh", arguments: ["-c", script, "sh"] + arguments)
    }

    /// Runs `executable` with `arguments` and waits for it.
    public static func run(_ executable: String, arguments: [String]) throws -> ChildProcessResult {
        let commandLine = ([executable] + arguments).joined(separator: " ")
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let started = ContinuousClock.now
        let spawnResult = posix_spawn(&pid, executable, nil, nil, argv, environ)
        guard spawnResult == 0 else {
            throw ChildProcessError(commandLine: commandLine, detail: "cannot start: \(String(cString: strerror(spawnResult)))")
        }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 {
            guard errno == EINTR else {
                throw ChildProcessError(commandLine: commandLine, detail: "wait4 failed: \(String(cString: strerror(errno)))")
            }
        }
        let elapsed = ContinuousClock.now - started
        let signal = status & 0x7f
        let exitStatus = signal == 0 ? (status >> 8) & 0xff : 128 + signal
        return ChildProcessResult(exitStatus: exitStatus, elapsed: elapsed, peakResidentKilobytes: Int(usage.ru_maxrss))
    }

    /// Runs `script` like `shell(_:arguments:)` and throws unless it exits 0.
    @discardableResult
    public static func shellChecked(_ script: String, arguments: [String] = []) throws -> ChildProcessResult {
        let result = try shell(script, arguments: arguments)
        guard result.exitStatus == 0 else {
            throw ChildProcessError(commandLine: script, detail: "exited with status \(result.exitStatus)")
        }
        return result
    }
}
