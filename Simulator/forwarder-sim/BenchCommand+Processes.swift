import ArgumentParser
import ForwarderCore
import ForwarderSimulation
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `forwarder-sim bench --processes`: the full forward with the forwarder and the mock each in
/// a process of its own, so the forwarder's CPU is measured apart from the mock's.
///
/// In the in-process row both ends share one process and two cores, and the mock's parsing
/// counts as forwarder time. Here `event-forwarder once` (no upload cap) runs as a child
/// against `forwarder-sim serve` as another child on 127.0.0.1: its CPU (user + system) comes
/// from `wait4` of its process alone, and the mock's from `/proc/PID/stat` just before the
/// forwarder starts and just after it exits, so the mock's start-up is not counted. Both
/// executables come from this one's build folder.
struct ProcessForwardBench {
    let eventCount: Int
    let repeatCount: Int
    let seed: UInt64
    let root: String

    func run() throws -> [BenchRow] {
        guard let forwarder = BenchRunner.forwarderExecutable, let simulator = BenchRunner.simulatorExecutable else {
            throw ValidationError("--processes: event-forwarder was not found beside forwarder-sim: build both.")
        }
        print("load average: \(Self.loadAverage())")
        let folderPath = root + "/ach-processes-\(eventCount)"
        let folder = try BenchFolder.generate(into: folderPath, eventCount: eventCount, seed: seed)
        print("generated \(BenchFormat.grouped(folder.summary.eventCount)) events, "
            + "\(BenchFormat.grouped(folder.summary.reportCount)) reports")
        let run = ProcessForwardRun(forwarderExecutable: forwarder, simulatorExecutable: simulator,
                                    folderPath: folderPath, workPath: root)
        var samples: [ProcessForwardSample] = []
        for _ in 0..<repeatCount {
            let sample = try run.measure()
            FileHandle.standardError.write(Data("  full forward, separate processes: \(sample.summary) (load \(Self.loadAverage()))\n".utf8))
            samples.append(sample)
        }
        try? FileManager.default.removeItem(atPath: folderPath)
        return ProcessForwardSample.rows(samples, eventCount: eventCount)
    }

    /// The 1, 5 and 15 minute load averages, for the figures' context.
    static func loadAverage() -> String {
        let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
        return text.split(separator: " ").prefix(3).joined(separator: " ")
    }
}

/// One forward of a whole folder with the forwarder and the mock in processes of their own.
struct ProcessForwardSample {
    var forwarded: Int
    var wall: Duration
    var forwarderCPU: Duration
    var mockCPU: Duration

    var eventsPerSecond: Double { Double(forwarded) / max(wall.secondsValue, 1e-9) }
    var forwarderMicrosecondsPerEvent: Double { forwarderCPU.secondsValue * 1e6 / Double(max(forwarded, 1)) }
    var mockMicrosecondsPerEvent: Double { mockCPU.secondsValue * 1e6 / Double(max(forwarded, 1)) }

    var summary: String {
        "\(BenchFormat.grouped(forwarded)) forwarded in \(BenchFormat.duration(wall)), "
            + "forwarder CPU \(BenchFormat.duration(forwarderCPU)) (\(BenchFormat.decimal(forwarderMicrosecondsPerEvent, places: 0)) µs/event), "
            + "mock CPU \(BenchFormat.duration(mockCPU)) (\(BenchFormat.decimal(mockMicrosecondsPerEvent, places: 0)) µs/event)"
    }

    /// The three rows of the table, each the median over `samples`.
    static func rows(_ samples: [ProcessForwardSample], eventCount: Int) -> [BenchRow] {
        func median(_ value: (ProcessForwardSample) -> Double) -> Double {
            let sorted = samples.map(value).sorted()
            return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
        }
        let label = BenchFormat.grouped(eventCount)
        return [
            BenchRow(measurement: "full forward, mock in its own process, \(label) events, no cap",
                     value: .rate(median(\.eventsPerSecond), unit: "events/s"), target: .valueAtLeast(3000)),
            BenchRow(measurement: "forwarder CPU (user + sys) per uploaded event, \(label) events",
                     value: .rate(median(\.forwarderMicrosecondsPerEvent), unit: "µs"), target: .valueAtMost(120)),
            BenchRow(measurement: "mock CPU (user + sys) per imported event, \(label) events",
                     value: .rate(median(\.mockMicrosecondsPerEvent), unit: "µs"), target: .valueAtMost(150)),
        ]
    }
}

/// Starts the mock, runs the forwarder once against it, stops the mock.
struct ProcessForwardRun {
    let forwarderExecutable: String
    let simulatorExecutable: String
    let folderPath: String
    let workPath: String

    func measure() throws -> ProcessForwardSample {
        let statePath = workPath + "/process-forward-state"
        BenchWorkloads.removeState(at: statePath)
        let listeningPath = workPath + "/serve.out"
        unlink(listeningPath)
        let mock = try SpawnedProcess(simulatorExecutable, arguments: ["serve", "--port", "0"],
                                      standardOutput: listeningPath)
        defer { mock.terminate() }
        let baseURL = try waitForListeningLine(in: listeningPath, of: mock)
        let mockCPUBefore = try mock.cpuTimeSoFar()
        let started = ContinuousClock.now
        let forwarder = try SpawnedProcess(forwarderExecutable, arguments: [
            "once", "--url", baseURL, "--watch", folderPath, "--state", statePath,
            "--max-forwards-per-pass", "0", "--max-age-days", "36500",
        ])
        let outcome = try forwarder.wait()
        let wall = ContinuousClock.now - started
        let mockCPU = try mock.cpuTimeSoFar() - mockCPUBefore
        guard outcome.exitStatus == 0 else {
            throw ChildProcessError(commandLine: "event-forwarder once", detail: "exited with status \(outcome.exitStatus)")
        }
        let lastPass = try Data(contentsOf: URL(fileURLWithPath: statePath + ".last-pass.json"))
        let report = try JSONDecoder().decode(PassReport.self, from: lastPass)
        BenchWorkloads.removeState(at: statePath)
        return ProcessForwardSample(forwarded: report.forwarded, wall: wall, forwarderCPU: outcome.cpuTime, mockCPU: mockCPU)
    }

    /// The URL from the mock's `listening on URL` line, waited for by polling its output file.
    private func waitForListeningLine(in path: String, of mock: SpawnedProcess) throws -> String {
        for _ in 0..<3000 {
            if let text = try? String(contentsOfFile: path, encoding: .utf8),
               let line = text.split(separator: "\n").first(where: { $0.hasPrefix("listening on ") }) {
                return String(line.dropFirst("listening on ".count))
            }
            guard mock.isRunning else {
                throw ChildProcessError(commandLine: "forwarder-sim serve", detail: "exited before it listened")
            }
            usleep(10_000)
        }
        throw ChildProcessError(commandLine: "forwarder-sim serve", detail: "printed no `listening on` line in 30 s")
    }
}

/// A child process started with `posix_spawn` and not yet waited for.
final class SpawnedProcess {
    let pid: pid_t
    private let commandLine: String
    private var exited = false

    /// Starts `executable`; standard input is `/dev/null`, standard output goes to
    /// `standardOutput` (a file created or truncated) or `/dev/null`, standard error to `/dev/null`.
    init(_ executable: String, arguments: [String], standardOutput: String? = nil) throws {
        commandLine = ([executable] + arguments).joined(separator: " ")
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, standardOutput ?? "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var pid = pid_t()
        let result = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard result == 0 else {
            throw ChildProcessError(commandLine: commandLine, detail: "cannot start: \(String(cString: strerror(result)))")
        }
        self.pid = pid
    }

    var isRunning: Bool {
        guard !exited else { return false }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid { exited = true }
        return !exited
    }

    /// User + system CPU of the running process so far, from `/proc/PID/stat` (clock ticks).
    func cpuTimeSoFar() throws -> Duration {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let afterName = text.range(of: ") ", options: .backwards) else {
            throw ChildProcessError(commandLine: commandLine, detail: "cannot read /proc/\(pid)/stat")
        }
        // Fields after the name start at field 3 (state); utime and stime are fields 14 and 15.
        let fields = text[afterName.upperBound...].split(separator: " ")
        guard fields.count > 12, let user = Int64(fields[11]), let system = Int64(fields[12]) else {
            throw ChildProcessError(commandLine: commandLine, detail: "unexpected /proc/\(pid)/stat")
        }
        let ticksPerSecond = Int64(sysconf(Int32(_SC_CLK_TCK)))
        return .nanoseconds((user + system) * 1_000_000_000 / ticksPerSecond)
    }

    /// Waits for the process to exit; its exit status and its own user + system CPU from `wait4`.
    func wait() throws -> (exitStatus: Int32, cpuTime: Duration) {
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 {
            guard errno == EINTR else {
                throw ChildProcessError(commandLine: commandLine, detail: "wait4 failed: \(String(cString: strerror(errno)))")
            }
        }
        exited = true
        let signal = status & 0x7f
        let exitStatus = signal == 0 ? (status >> 8) & 0xff : 128 + signal
        func duration(_ time: timeval) -> Duration { .seconds(Int64(time.tv_sec)) + .microseconds(Int64(time.tv_usec)) }
        return (exitStatus, duration(usage.ru_utime) + duration(usage.ru_stime))
    }

    /// Sends SIGTERM and waits, unless the process was waited for already.
    func terminate() {
        guard !exited else { return }
        kill(pid, SIGTERM)
        _ = try? wait()
    }
}
