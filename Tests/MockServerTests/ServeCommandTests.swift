import ForwarderCore
import ForwarderSimulation
import Foundation
import Testing

/// `forwarder-sim serve` as a user runs it: a process that prints its URL and stops on a signal.
@Suite("Serve command")
struct ServeCommandTests {
    /// The `forwarder-sim` executable built beside the test bundle.
    static let executable = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        .appendingPathComponent("forwarder-sim")

    @Test("CLI: serve prints its URL, loads the fault plan, keeps files with --store, stops on SIGTERM")
    func serve() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: Self.executable.path),
                     "build the package first (swift build --build-tests): \(Self.executable.path)")
        let directory = try makeTemporaryDirectory("serve")
        defer { try? FileManager.default.removeItem(at: directory) }
        let planURL = directory.appendingPathComponent("plan.json")
        let storeURL = directory.appendingPathComponent("store")
        let outputURL = directory.appendingPathComponent("stdout")
        try Data(#"{"rules": [{"name": "second-fails", "fault": {"kind": "httpStatus", "status": 503}, "requests": {"first": 2, "last": 2}}]}"#.utf8)
            .write(to: planURL)
        try Data().write(to: outputURL)
        let output = try FileHandle(forWritingTo: outputURL)
        defer { try? output.close() }

        let process = Process()
        process.executableURL = Self.executable
        process.arguments = ["serve", "--port", "0", "--faults", planURL.path, "--seed", "3", "--store", storeURL.path]
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        var firstLine = ""
        for _ in 0..<500 where !firstLine.hasSuffix("\n") {
            firstLine = (try? String(contentsOf: outputURL, encoding: .utf8)) ?? ""
            if !firstLine.hasSuffix("\n") { try await Task.sleep(for: .milliseconds(20)) }
        }
        let prefix = "listening on http://127.0.0.1:"
        try #require(firstLine.hasPrefix(prefix), "first line: \(firstLine)")
        let baseURL = String(firstLine.dropFirst("listening on ".count).dropLast())
        #expect(Int(baseURL.dropFirst("http://127.0.0.1:".count)).map { $0 > 0 } == true)

        let name = Fixtures.eventName()
        let request = Fixtures.forwarderRequest(binaryName: name, binary: Fixtures.binary(seed: 700))
        let form = MultipartFormBody(request: request)
        let endpoint = ImportContract.endpoint(baseURL: baseURL, serialHint: nil)
        #expect(try await TestClient.post(endpoint, contentType: form.contentType, body: form.bytes).status == 200)
        #expect(try await TestClient.post(endpoint, contentType: form.contentType, body: form.bytes).status == 503)
        #expect(try Data(contentsOf: storeURL.appendingPathComponent(name)) == request.binary.contents)
        let stats = try TestClient.decode(MockStats.self, try await TestClient.send(.GET, baseURL + "/mock/stats"))
        #expect(stats.faultsByRule["second-fails"] == 1)

        process.terminate()
        try await onOwnThread { process.waitUntilExit() }
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
    }
}
