import ForwarderCore
import ForwarderSimulation
import Foundation
import Testing

/// `forwarder-sim serve`'s capacity flags as a user types them.
@Suite("Serve command capacity flags")
struct CapacityServeCommandTests {
    /// Runs `forwarder-sim` with `arguments` to its end; returns the exit status and standard error.
    func runToEnd(_ arguments: [String]) async throws -> (status: Int32, standardError: String) {
        try #require(FileManager.default.isExecutableFile(atPath: ServeCommandTests.executable.path),
                     "build the package first (swift build --build-tests): \(ServeCommandTests.executable.path)")
        let process = Process()
        process.executableURL = ServeCommandTests.executable
        process.arguments = arguments
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        let output = try await onOwnThread { errors.fileHandleForReading.readDataToEndOfFile() }
        try await onOwnThread { process.waitUntilExit() }
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    @Test("CLI: a bad capacity flag exits 2 naming the flag and the value", arguments: [
        (["--capacity-in-progress", "0"], "--capacity-in-progress 0: must be at least 1"),
        (["--capacity-in-progress", "2", "--over-capacity", "500"], "--over-capacity 500: must be queue, 429 or 503"),
        (["--capacity-in-progress", "2", "--retry-after-form", "http"], "--retry-after-form http: must be seconds or date"),
        (["--capacity-in-progress", "2", "--queue-full-status", "500"], "--queue-full-status 500: must be 429 or 503"),
        (["--capacity-in-progress", "2", "--service-ms-per-mb=-3"], "--service-ms-per-mb -3.0: must be"),
        (["--capacity-in-progress", "2", "--over-capacity", "429", "--queue-limit", "5"],
         "--queue-limit given: must be used with --over-capacity queue"),
        (["--over-capacity", "429"], "--over-capacity given: must be used with --capacity-in-progress"),
    ])
    func badFlag(arguments: [String], message: String) async throws {
        let (status, standardError) = try await runToEnd(["serve", "--port", "0"] + arguments)
        #expect(status == 2)
        #expect(standardError.contains(message), "stderr: \(standardError)")
    }

    @Test("CLI: the capacity flags become the plan the server reports")
    func flagsBecomeThePlan() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: ServeCommandTests.executable.path))
        let directory = try makeTemporaryDirectory("serve-capacity")
        defer { try? FileManager.default.removeItem(at: directory) }
        let outputURL = directory.appendingPathComponent("stdout")
        try Data().write(to: outputURL)
        let output = try FileHandle(forWritingTo: outputURL)
        defer { try? output.close() }
        let process = Process()
        process.executableURL = ServeCommandTests.executable
        process.arguments = ["serve", "--port", "0", "--capacity-in-progress", "3", "--service-ms-per-request", "20",
                             "--service-ms-per-mb", "5", "--over-capacity", "queue", "--queue-limit", "40",
                             "--queue-full-status", "429", "--retry-after-seconds", "4", "--retry-after-form", "date"]
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        var firstLine = ""
        for _ in 0..<500 where !firstLine.hasSuffix("\n") {
            firstLine = (try? String(contentsOf: outputURL, encoding: .utf8)) ?? ""
            if !firstLine.hasSuffix("\n") { try await Task.sleep(for: .milliseconds(20)) }
        }
        try #require(firstLine.hasPrefix("listening on http://127.0.0.1:"), "first line: \(firstLine)")
        let baseURL = String(firstLine.dropFirst("listening on ".count).dropLast())
        let plan = try TestClient.decode(CapacityPlan.self, try await TestClient.send(.GET, baseURL + "/mock/capacity"))
        #expect(plan == CapacityPlan(maximumInProgress: 3, serviceMillisecondsPerRequest: 20, serviceMillisecondsPerMegabyte: 5,
                                     overCapacity: .queue, queueLimit: 40, queueFullStatus: 429, retryAfterSeconds: 4,
                                     retryAfterForm: .date))
        process.terminate()
        try await onOwnThread { process.waitUntilExit() }
        #expect(process.terminationStatus == 0)
    }
}
