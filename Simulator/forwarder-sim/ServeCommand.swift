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
        discussion: "Prints `listening on http://HOST:PORT`. The fault plan format is in docs/MOCK-SFM.md."
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

    func run() async throws {
        let plan = try faultPlanPath.map { path in
            try FaultPlan(json: Data(contentsOf: URL(fileURLWithPath: path)))
        } ?? .none
        let server = try await MockSFMServer.start(
            host: host, port: port,
            configuration: MockSFM.Configuration(maximumBodyByteCount: maximumBodyByteCount, seed: seed),
            faultPlan: plan,
            archiveDirectory: storeDirectory.map { URL(fileURLWithPath: $0, isDirectory: true) },
            stopsOnTerminationSignals: true)
        FileHandle.standardOutput.write(Data("listening on \(server.baseURL)\n".utf8))
        FileHandle.standardError.write(Data(
            "mock SFM: seed \(plan.seed ?? seed), \(plan.rules.count) fault rules; stop with Ctrl-C\n".utf8))
        try await server.waitUntilStopped()
    }
}
