import ArgumentParser
import ForwarderSimulation
import Foundation
import MockSFMServer

/// `forwarder-sim serve`: the mock SFM server on a real socket, until SIGINT or SIGTERM.
///
/// Prints the bound URL as its first line of standard output so scripts can start it with
/// `--port 0` and read where it listens.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the mock SFM server until SIGINT or SIGTERM.",
        discussion: """
            Prints `listening on http://HOST:PORT`. The fault plan format and the capacity model \
            (--capacity-in-progress and the flags after it) are in docs/MOCK-SFM.md.
            """
    )

    @Option(help: "Address to bind.")
    var host = "127.0.0.1"

    @Option(help: "Port to bind; 0 picks a free port.")
    var port = 0

    @Option(name: .customLong("faults"), help: "Fault plan JSON file.")
    var faultPlanPath: String?

    @Option(help: "Seed for the fault plan's random draws when the plan has no seed of its own.")
    var seed: UInt64 = 0

    @Option(name: .customLong("store"), help: "Directory that keeps a copy of every stored file.")
    var storeDirectory: String?

    @Option(name: .customLong("max-body-bytes"), help: "Largest accepted request body; larger ones get 413.")
    var maximumBodyByteCount = 64 << 20

    @Option(name: .customLong("capacity-in-progress"),
            help: "Requests served at once; the rest wait or are refused (default: unlimited).")
    var maximumInProgress: Int?

    @Option(name: .customLong("service-ms-per-request"), help: "Milliseconds a slot is busy per request.")
    var serviceMillisecondsPerRequest: Double?

    @Option(name: .customLong("service-ms-per-mb"), help: "Milliseconds a slot is busy per megabyte of body, on top.")
    var serviceMillisecondsPerMegabyte: Double?

    @Option(name: .customLong("over-capacity"), help: "When every slot is busy: queue, 429 or 503 (default queue).")
    var overCapacity: String?

    @Option(name: .customLong("queue-limit"), help: "With queue: most requests waiting; more are refused (default: no limit).")
    var queueLimit: Int?

    @Option(name: .customLong("queue-full-status"), help: "Status refusing a request that finds the queue full: 429 or 503 (default 503).")
    var queueFullStatus: Int?

    @Option(name: .customLong("retry-after-seconds"), help: "Retry-After on refusals, in seconds (default: no header).")
    var retryAfterSeconds: Int?

    @Option(name: .customLong("retry-after-form"), help: "Retry-After written as seconds or date (IMF-fixdate); default seconds.")
    var retryAfterForm: String?

    func validate() throws {
        do {
            _ = try capacityPlan()
        } catch {
            FileHandle.standardError.write(Data("forwarder-sim serve: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }

    /// The capacity plan the flags describe, nil without `--capacity-in-progress`.
    func capacityPlan() throws(ServeFlagError) -> CapacityPlan? {
        guard let maximumInProgress else {
            let stray = [("--service-ms-per-request", serviceMillisecondsPerRequest != nil),
                         ("--service-ms-per-mb", serviceMillisecondsPerMegabyte != nil),
                         ("--over-capacity", overCapacity != nil), ("--queue-limit", queueLimit != nil),
                         ("--queue-full-status", queueFullStatus != nil),
                         ("--retry-after-seconds", retryAfterSeconds != nil), ("--retry-after-form", retryAfterForm != nil)]
            if let flag = stray.first(where: \.1)?.0 {
                throw ServeFlagError(flag: flag, value: "given", expected: "used with --capacity-in-progress")
            }
            return nil
        }
        var overCapacityValue = CapacityPlan.OverCapacity.queue
        if let overCapacity {
            guard let parsed = CapacityPlan.OverCapacity(rawValue: overCapacity) else {
                throw ServeFlagError(flag: "--over-capacity", value: overCapacity, expected: "queue, 429 or 503")
            }
            overCapacityValue = parsed
        }
        var retryAfterFormValue = CapacityPlan.RetryAfterForm.seconds
        if let retryAfterForm {
            guard let parsed = CapacityPlan.RetryAfterForm(rawValue: retryAfterForm) else {
                throw ServeFlagError(flag: "--retry-after-form", value: retryAfterForm, expected: "seconds or date")
            }
            retryAfterFormValue = parsed
        }
        if queueLimit != nil || queueFullStatus != nil, overCapacityValue != .queue {
            throw ServeFlagError(flag: queueLimit != nil ? "--queue-limit" : "--queue-full-status",
                                 value: "given", expected: "used with --over-capacity queue")
        }
        let plan = CapacityPlan(
            maximumInProgress: maximumInProgress, serviceMillisecondsPerRequest: serviceMillisecondsPerRequest ?? 0,
            serviceMillisecondsPerMegabyte: serviceMillisecondsPerMegabyte ?? 0, overCapacity: overCapacityValue,
            queueLimit: queueLimit, queueFullStatus: queueFullStatus ?? 503, retryAfterSeconds: retryAfterSeconds,
            retryAfterForm: retryAfterFormValue)
        do {
            try plan.validate()
        } catch {
            throw ServeFlagError(flag: Self.flagNames[error.key] ?? error.key, value: error.value, expected: error.expected)
        }
        return plan
    }

    private static let flagNames = [
        "maximumInProgress": "--capacity-in-progress", "serviceMillisecondsPerRequest": "--service-ms-per-request",
        "serviceMillisecondsPerMegabyte": "--service-ms-per-mb", "queueLimit": "--queue-limit",
        "queueFullStatus": "--queue-full-status", "retryAfterSeconds": "--retry-after-seconds",
    ]

    func run() async throws {
        let plan = try faultPlanPath.map { path in
            try FaultPlan(json: Data(contentsOf: URL(fileURLWithPath: path)))
        } ?? .none
        let server = try await MockSFMServer.start(
            host: host, port: port,
            configuration: MockSFM.Configuration(maximumBodyByteCount: maximumBodyByteCount, seed: seed,
                                                 capacity: try capacityPlan()),
            faultPlan: plan,
            archiveDirectory: storeDirectory.map { URL(fileURLWithPath: $0, isDirectory: true) },
            stopsOnTerminationSignals: true)
        FileHandle.standardOutput.write(Data("listening on \(server.baseURL)\n".utf8))
        let capacity = server.mock.capacityPlan.map(Self.describe) ?? "unlimited capacity"
        FileHandle.standardError.write(Data(
            "mock SFM: seed \(plan.seed ?? seed), \(plan.rules.count) fault rules, \(capacity); stop with Ctrl-C\n".utf8))
        try await server.waitUntilStopped()
    }
}

extension ServeCommand {
    /// One line for the start-up message: `capacity 4 in progress, 20 ms + 5 ms/MB, over it 429 (Retry-After 5 s)`.
    static func describe(_ plan: CapacityPlan) -> String {
        var overIt: String
        switch plan.overCapacity {
        case .queue: overIt = "queue" + (plan.queueLimit.map { " up to \($0), then \(plan.queueFullStatus)" } ?? "")
        case .tooManyRequests: overIt = "429"
        case .serviceUnavailable: overIt = "503"
        }
        if let seconds = plan.retryAfterSeconds {
            overIt += " (Retry-After \(seconds) s as \(plan.retryAfterForm.rawValue))"
        }
        return "capacity \(plan.maximumInProgress) in progress, \(plan.serviceMillisecondsPerRequest) ms + "
            + "\(plan.serviceMillisecondsPerMegabyte) ms/MB, over it \(overIt)"
    }
}

/// A `serve` flag whose value cannot describe a server.
struct ServeFlagError: Error, CustomStringConvertible {
    var flag: String
    var value: String
    var expected: String

    var description: String { "\(flag) \(value): must be \(expected)" }
}
