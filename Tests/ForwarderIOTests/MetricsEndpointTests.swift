import ForwarderCore
import ForwarderIO
import Foundation
import Testing

/// `event-forwarder run` with `--metrics-address`, as a process.
@Suite("Metrics endpoint")
struct MetricsEndpointTests {
    @Test("Metrics: a bad SFM_METRICS_ADDRESS, from a flag or the environment, exits 2 naming the key and value")
    func badAddress() async throws {
        let folder = try TemporaryFolder("metrics-bad")
        let executable = try builtProduct("event-forwarder")
        let base = ["run", "--watch", folder.path, "--state", folder.file("state"), "--url", "http://127.0.0.1:9"]
        let fromFlag = try await runProcessOffPool(executable, base + ["--metrics-address", "127.0.0.1:70000"])
        #expect(fromFlag.status == 2)
        #expect(fromFlag.standardError.contains("SFM_METRICS_ADDRESS=\"127.0.0.1:70000\" (from --metrics-address)"),
                "\(fromFlag.standardError)")
        let fromEnvironment = try await runProcessOffPool(executable, base, environment: ["SFM_METRICS_ADDRESS": "metrics.example:9464"])
        #expect(fromEnvironment.status == 2)
        #expect(fromEnvironment.standardError.contains("SFM_METRICS_ADDRESS=\"metrics.example:9464\" (from environment)"))
        #expect(!FileManager.default.fileExists(atPath: folder.file("state.journal")))
    }

    @Test("Metrics: an address in use stops `run` at start with exit 2 naming SFM_METRICS_ADDRESS; nothing is uploaded")
    func addressInUse() async throws {
        let server = try await TinyImportServer.start()
        let folder = try TemporaryFolder("metrics-in-use")
        try FileManager.default.createDirectory(atPath: folder.file("ach"), withIntermediateDirectories: true)
        try folder.write("ach/" + eventName(1), eventBytes(1), ageSeconds: 600, now: FileTime(Date()))
        let result = try await runProcessOffPool(try builtProduct("event-forwarder"),
                                                 ["run", "--watch", folder.file("ach"), "--state", folder.file("state"),
                                                  "--url", "http://127.0.0.1:\(server.port)",
                                                  "--metrics-address", "127.0.0.1:\(server.port)"])
        #expect(result.status == 2)
        #expect(result.standardError.contains("SFM_METRICS_ADDRESS=127.0.0.1:\(server.port)"), "\(result.standardError)")
        #expect(server.receivedFileNames.isEmpty, "no pass started")
        await server.shutdown()
    }

    @Test("Shutdown: SIGTERM to `run` with metrics on exits 0 with the state synced and the port closed")
    func sigtermWithMetrics() async throws {
        let server = try await TinyImportServer.start()
        let folder = try TemporaryFolder("metrics-sigterm")
        try FileManager.default.createDirectory(atPath: folder.file("ach"), withIntermediateDirectories: true)
        let now = FileTime(Date())
        for index in 0..<3 {
            try folder.write("ach/" + eventName(index), eventBytes(index), ageSeconds: 600 - Double(index), now: now)
        }
        let logPath = folder.file("forwarder.log")
        #expect(FileManager.default.createFile(atPath: logPath, contents: nil))
        let process = Process()
        process.executableURL = try builtProduct("event-forwarder")
        process.arguments = ["run", "--watch", folder.file("ach"), "--state", folder.file("state"),
                             "--url", "http://127.0.0.1:\(server.port)", "--interval-seconds", "3600",
                             "--metrics-address", "127.0.0.1:0", "--log-format", "json"]
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SFM_") }
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        let port = try await Self.metricsPort(inLog: logPath)
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: folder.file("state.last-pass.json")), Date() < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        let metrics = try await httpGet("http://127.0.0.1:\(port)/metrics")
        #expect(metrics.status == 200)
        #expect(metricValue(metrics.body, #"blastware_forwarder_events_forwarded_total{report="no"}"#) == 3, "\(metrics.body)")
        #expect(metricValue(metrics.body, "blastware_forwarder_state_records") == 3)
        #expect(metricValue(metrics.body, #"blastware_forwarder_build_info{version="\#(ForwarderBuildInfo.version)"}"#) == 1)
        let health = try await httpGet("http://127.0.0.1:\(port)/health")
        #expect(health.status == 200, "\(health.body)")
        let body = try JSONSerialization.jsonObject(with: Data(health.body.utf8)) as? [String: Any]
        #expect(body?["status"] as? String == "ok")
        #expect(body?["reasons"] as? [String] == [])
        #expect(body?["circuit_open"] as? Bool == false)
        #expect(body?["state_writable"] as? Bool == true)

        process.terminate()
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
        let state = try FileStateStore(path: folder.file("state"), readOnly: true)
        #expect(state.count == 3, "every acceptance is in the state after the stop")
        await #expect(throws: (any Error).self, "the metrics port is closed") {
            _ = try await httpGet("http://127.0.0.1:\(port)/metrics")
        }
        let log = try String(contentsOfFile: logPath, encoding: .utf8)
        #expect(log.contains("stop requested"))
        await server.shutdown()
    }

    @Test("Health: with the server down and the circuit open, /health answers 503 with the reason")
    func unhealthyWhenCircuitOpen() async throws {
        let folder = try TemporaryFolder("metrics-circuit")
        try FileManager.default.createDirectory(atPath: folder.file("ach"), withIntermediateDirectories: true)
        try folder.write("ach/" + eventName(1), eventBytes(1), ageSeconds: 600, now: FileTime(Date()))
        let settings = ForwarderSettings(
            watchFolder: folder.file("ach"), forwardingEnabled: true, serverURL: "http://127.0.0.1:9",
            passInterval: .seconds(3600), policy: ScanPolicy(), requestTimeout: .seconds(5), statePath: folder.file("state"),
            serialHint: nil, logFormat: .text, retryPolicy: RetryPolicy(circuitBreakerFailures: 1),
            metricsAddress: MetricsAddress(host: "127.0.0.1", port: 0))
        let stop = StopSignal()
        let (addresses, continuation) = AsyncStream<MetricsAddress>.makeStream()
        let running = Task {
            try await ForwarderService(settings: settings, logger: quietLogger)
                .run(dryRun: false, stop: stop, onMetricsListening: { continuation.yield($0) })
        }
        var iterator = addresses.makeAsyncIterator()
        let address = try #require(await iterator.next())
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: folder.file("state.last-pass.json")), Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let health = try await httpGet("http://127.0.0.1:\(address.port)/health")
        #expect(health.status == 503)
        let body = try JSONSerialization.jsonObject(with: Data(health.body.utf8)) as? [String: Any]
        #expect(body?["status"] as? String == "unhealthy")
        #expect(body?["circuit_open"] as? Bool == true)
        #expect((body?["reasons"] as? [String])?.first?.contains("circuit is open") == true, "\(health.body)")
        let metrics = try await httpGet("http://127.0.0.1:\(address.port)/metrics")
        #expect(metricValue(metrics.body, "blastware_forwarder_circuit_open") == 1)
        #expect(metricValue(metrics.body, #"blastware_forwarder_upload_failures_total{class="retryable"}"#) == 1)
        stop.request()
        try await running.value
    }

    /// The port from the forwarder's "serving /metrics" log line (it was asked for port 0).
    static func metricsPort(inLog logPath: String) async throws -> Int {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            for line in log.split(separator: "\n") where line.contains("metrics.port") {
                if let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                   let port = (object["metrics.port"] as? String).flatMap(Int.init) {
                    return port
                }
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: logPath])
    }
}
