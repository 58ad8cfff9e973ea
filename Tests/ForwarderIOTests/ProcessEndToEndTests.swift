import ForwarderCore
import ForwarderIO
import Foundation
import Hummingbird
import HummingbirdTLS
import NIOCore
import Synchronization
import Testing

/// A minimal SFM import endpoint on 127.0.0.1: answers `ok` for every file and keeps the names.
///
/// It can also refuse chosen binaries with an error row, demand a bearer token (401 without
/// it) and serve https, for the hardening tests.
final class TinyImportServer: Sendable {
    private let received: FileNameLog
    private let task: Task<Void, any Error>
    let port: Int

    private init(task: Task<Void, any Error>, port: Int, received: FileNameLog) {
        self.task = task
        self.port = port
        self.received = received
    }

    /// Multipart file names, in the order they arrived.
    var receivedFileNames: [String] { received.names.withLock { $0 } }
    /// The `Authorization` header of every request, "" when absent.
    var authorizations: [String] { received.authorizations.withLock { $0 } }

    /// Binaries answered with an error row from now on.
    func refuse(_ names: Set<String>) { received.refused.withLock { $0 = names } }

    /// Requests after the first `count` (counted from the server's start) get no answer until
    /// `release()`: their files are logged, then they wait, as if the server hung.
    func hold(afterRequests count: Int) { received.answeredRequestLimit.withLock { $0 = count } }

    /// Answers held requests and every later one.
    func release() { received.answeredRequestLimit.withLock { $0 = nil } }

    static func start(requiredToken: String? = nil,
                      tls: (TLSConfiguration)? = nil) async throws -> TinyImportServer {
        let received = FileNameLog()
        let router = Router()
        router.post("/db/import/blastware_file") { request, _ -> Response in
            let authorization = request.headers[.authorization] ?? ""
            received.authorizations.withLock { $0.append(authorization) }
            if let requiredToken, authorization != "Bearer \(requiredToken)" {
                return Response(status: .unauthorized)
            }
            let body = try await request.body.collect(upTo: 64 << 20)
            let text = String(decoding: body.readableBytesView, as: UTF8.self)
            let files = text.components(separatedBy: "filename=\"").dropFirst()
                .compactMap { $0.split(separator: "\"").first.map(String.init) }
            received.names.withLock { $0 += files }
            let requestNumber = received.requestCount.withLock { count in
                count += 1
                return count
            }
            while let limit = received.answeredRequestLimit.withLock({ $0 }), requestNumber > limit, !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(20))
            }
            let refused = received.refused.withLock { $0 }
            let rows = files.map { name in
                refused.contains(name)
                    ? "{\"filename\": \"\(name)\", \"status\": \"error\", \"detail\": \"unsupported file\"}"
                    : "{\"filename\": \"\(name)\", \"status\": \"ok\", \"inserted\": 1, \"skipped\": 0}"
            }
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            let reply = "{\"count\": \(rows.count), \"results\": [\(rows.joined(separator: ","))]}"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: reply)))
        }
        let (portStream, portContinuation) = AsyncStream<Int>.makeStream()
        let app = Application(router: router, server: try tls.map { try .tls(tlsConfiguration: $0) } ?? .http1(),
                              configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in portContinuation.yield(channel.localAddress?.port ?? 0) },
                              logger: quietLogger)
        let task = Task { try await app.runService() }
        var iterator = portStream.makeAsyncIterator()
        let port = await iterator.next() ?? 0
        return TinyImportServer(task: task, port: port, received: received)
    }

    func shutdown() async {
        task.cancel()
        _ = await task.result
    }
}

final class FileNameLog: Sendable {
    let names = Mutex<[String]>([])
    let authorizations = Mutex<[String]>([])
    let refused = Mutex<Set<String>>([])
    let requestCount = Mutex(0)
    let answeredRequestLimit = Mutex<Int?>(nil)
}

/// Finds a product built beside the test bundle.
func builtProduct(_ name: String) throws -> URL {
    var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = folder.appendingPathComponent(name)
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        folder.deleteLastPathComponent()
    }
    throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: name])
}

struct ProcessResult {
    var status: Int32
    var standardOutput: String
    var standardError: String
}

/// `runProcess` on a thread of its own, so waiting for the child does not hold one of the few
/// threads that Swift concurrency shares with the in-process server that the child talks to.
func runProcessOffPool(_ executable: URL, _ arguments: [String],
                       environment: [String: String] = [:]) async throws -> ProcessResult {
    try await withCheckedThrowingContinuation { continuation in
        Thread {
            continuation.resume(with: Result { try runProcess(executable, arguments, environment: environment) })
        }.start()
    }
}

func runProcess(_ executable: URL, _ arguments: [String], environment: [String: String] = [:]) throws -> ProcessResult {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    var processEnvironment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SFM_") && $0.key != "SERIES3_PATH" && $0.key != "MAX_EVENT_AGE_DAYS" }
    processEnvironment.merge(environment) { $1 }
    process.environment = processEnvironment
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    let errorData = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ProcessResult(status: process.terminationStatus, standardOutput: String(decoding: outputData, as: UTF8.self),
                         standardError: String(decoding: errorData, as: UTF8.self))
}

@Suite("event-forwarder process")
struct ProcessEndToEndTests {
    @Test("End to end: `once` uploads pairs to a loopback server, records them, and a second run uploads nothing")
    func onceEndToEnd() async throws {
        let server = try await TinyImportServer.start()
        let folder = try TemporaryFolder("e2e")
        let now = FileTime(Date())
        try FileManager.default.createDirectory(atPath: folder.file("ach"), withIntermediateDirectories: true)
        for index in 0..<5 {
            let name = eventName(index)
            try folder.write("ach/" + name, eventBytes(index), ageSeconds: 600 - Double(index), now: now)
            try folder.write("ach/" + achReportName(name), Data("\"Serial Number : BE12844\"\n".utf8), ageSeconds: 500, now: now)
        }
        try folder.write("ach/Thumbs.db", Data([1]), ageSeconds: 600, now: now)
        try folder.write("ach/M529LK44.PDF", Data([1]), ageSeconds: 600, now: now)
        let executable = try builtProduct("event-forwarder")
        let arguments = ["once", "--watch", folder.file("ach"), "--state", folder.file("state"),
                         "--url", "http://127.0.0.1:\(server.port)"]
        let first = try await runProcessOffPool(executable, arguments)
        #expect(first.status == 0, "\(first.standardError)")
        #expect(first.standardOutput.contains("forwarded=5"))
        #expect(first.standardOutput.contains("with_report=5"))
        // Uploads run four at a time, so requests arrive in any order; each is binary then report.
        let requests = stride(from: 0, to: server.receivedFileNames.count, by: 2).map {
            Array(server.receivedFileNames[$0..<min($0 + 2, server.receivedFileNames.count)])
        }
        #expect(Set(requests) == Set((0..<5).map { [eventName($0), achReportName(eventName($0))] }))

        let second = try await runProcessOffPool(executable, arguments)
        #expect(second.status == 0, "\(second.standardError)")
        #expect(second.standardOutput.contains("forwarded=0"))
        #expect(server.receivedFileNames.count == 10)

        let status = try await runProcessOffPool(executable, ["status", "--json", "--watch", folder.file("ach"), "--state", folder.file("state")])
        #expect(status.status == 0)
        let decoded = try JSONSerialization.jsonObject(with: Data(status.standardOutput.utf8)) as? [String: Any]
        #expect(decoded?["recordedEvents"] as? Int == 5)
        #expect(decoded?["backlog"] as? Int == 0)
        await server.shutdown()
    }

    @Test("End to end: an unreachable server makes `once` exit 1 and record nothing")
    func unreachableServer() async throws {
        let folder = try TemporaryFolder("e2e-down")
        try FileManager.default.createDirectory(atPath: folder.file("ach"), withIntermediateDirectories: true)
        try folder.write("ach/" + eventName(1), eventBytes(1), ageSeconds: 600, now: FileTime(Date()))
        let result = try await runProcessOffPool(try builtProduct("event-forwarder"),
                                    ["once", "--watch", folder.file("ach"), "--state", folder.file("state"),
                                     "--url", "http://127.0.0.1:9", "--timeout-seconds", "5"])
        #expect(result.status == 1)
        #expect(result.standardOutput.contains("errors=1"))
        let state = try FileStateStore(path: folder.file("state"), readOnly: true)
        #expect(state.count == 0, "nothing was accepted")
        #expect(state.allAttempts().map(\.fileName) == [eventName(1)], "the failure is remembered for its backoff")
    }

    @Test("Config: a bad value from config.ini, the environment or a flag exits 2 naming the key and value")
    func badConfig() async throws {
        let folder = try TemporaryFolder("e2e-config")
        let config = folder.file("config.ini")
        try Data("[watcher]\nSFM_FORWARD_ENABLED = true\nSFM_URL = http://127.0.0.1:9\nSFM_MAX_FORWARDS_PER_PASS = lots\n".utf8)
            .write(to: URL(fileURLWithPath: config))
        let executable = try builtProduct("event-forwarder")
        let fromFile = try await runProcessOffPool(executable, ["once", "--config", config])
        #expect(fromFile.status == 2)
        #expect(fromFile.standardError.contains("SFM_MAX_FORWARDS_PER_PASS=\"lots\""))
        #expect(fromFile.standardError.contains(config))

        let fromEnvironment = try await runProcessOffPool(executable, ["once", "--config", config, "--max-forwards-per-pass", "5"],
                                             environment: ["SFM_HTTP_TIMEOUT_SECONDS": "-3"])
        #expect(fromEnvironment.status == 2)
        #expect(fromEnvironment.standardError.contains("SFM_HTTP_TIMEOUT_SECONDS=\"-3\" (from environment)"))

        let fromFlag = try await runProcessOffPool(executable, ["once", "--config", config, "--max-forwards-per-pass=-1"])
        #expect(fromFlag.status == 2)
        #expect(fromFlag.standardError.contains("(from --max-forwards-per-pass)"))

        let unknownFlag = try await runProcessOffPool(executable, ["once", "--no-such-flag"])
        #expect(unknownFlag.status == 2)
    }

    @Test("Config: with forwarding disabled, `run` says so and uploads nothing")
    func disabled() async throws {
        let folder = try TemporaryFolder("e2e-disabled")
        let result = try await runProcessOffPool(try builtProduct("event-forwarder"), ["run", "--watch", folder.path, "--state", folder.file("state")])
        #expect(result.status == 0)
        #expect(result.standardError.contains("forwarding is disabled"))
        #expect(!FileManager.default.fileExists(atPath: folder.file("state.journal")))
    }

    @Test("Seed-state: the reference's flags work and report counts")
    func seedStateProcess() async throws {
        let folder = try TemporaryFolder("e2e-seed")
        try FileManager.default.createDirectory(atPath: folder.file("ach"), withIntermediateDirectories: true)
        let now = FileTime(Date())
        for index in 0..<3 { try folder.write("ach/" + eventName(index), eventBytes(index), ageSeconds: 100, now: now) }
        try folder.write("ach/" + eventName(9), eventBytes(9), ageSeconds: 3 * 86_400, now: now)
        let result = try await runProcessOffPool(try builtProduct("event-forwarder"),
                                    ["seed-state", "--watch", folder.file("ach"), "--state", folder.file("state"), "--max-age-days", "2"])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardOutput.contains("seeded=3"))
        #expect(result.standardOutput.contains("skipped_too_old=1"))
    }
}
