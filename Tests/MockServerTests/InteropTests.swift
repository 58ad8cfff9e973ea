import ForwarderCore
import ForwarderSimulation
import Foundation
import MockSFMServer
import Testing

/// Clients nobody here wrote: the reference Python forwarder and curl.
@Suite("Interoperability")
struct InteropTests {
    /// The reference forwarder: `$BLASTWARE_REFERENCE_FORWARDER`, else
    /// `../shared/reference/event_forwarder.py` beside the repository.
    ///
    /// It lives outside the repository (CI has it; a clone alone does not), so the test that runs it
    /// is reported as not run, with this path, where the file is missing.
    static let referenceForwarder = ProcessInfo.processInfo.environment["BLASTWARE_REFERENCE_FORWARDER"]
        .map { URL(fileURLWithPath: $0) }
        ?? repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/reference/event_forwarder.py")

    static var referenceForwarderIsPresent: Bool { FileManager.default.fileExists(atPath: referenceForwarder.path) }

    /// Runs a program found on PATH and returns its exit status and standard output.
    static func run(_ arguments: [String], environment: [String: String] = [:]) async throws
        -> (status: Int32, output: String, error: String) {
        try await onOwnThread { try runBlocking(arguments, environment: environment) }
    }

    private static func runBlocking(_ arguments: [String], environment: [String: String])
        throws -> (status: Int32, output: String, error: String) {
        // Output goes to files, not pipes: reading a pipe with FileHandle traps on EINTR on Linux.
        let directory = try makeTemporaryDirectory("process")
        defer { try? FileManager.default.removeItem(at: directory) }
        let outputURL = directory.appendingPathComponent("stdout")
        let errorURL = directory.appendingPathComponent("stderr")
        try Data().write(to: outputURL)
        try Data().write(to: errorURL)
        let output = try FileHandle(forWritingTo: outputURL)
        let error = try FileHandle(forWritingTo: errorURL)
        defer {
            try? output.close()
            try? error.close()
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = output
        process.standardError = error
        try process.run()
        process.waitUntilExit()
        return (process.terminationStatus, try String(contentsOf: outputURL, encoding: .utf8),
                try String(contentsOf: errorURL, encoding: .utf8))
    }

    @Test("Interop: the reference Python forwarder forwards a folder and every event lands",
          .enabled(if: referenceForwarderIsPresent,
                   Comment(rawValue: "needs the reference forwarder at \(referenceForwarder.path) (outside the "
                       + "repository; set BLASTWARE_REFERENCE_FORWARDER to point elsewhere)")))
    func referencePythonForwarder() async throws {
        let folder = try makeTemporaryDirectory("python-watch")
        let stateFile = try makeTemporaryDirectory("python-state").appendingPathComponent("forwarded.json")
        defer {
            try? FileManager.default.removeItem(at: folder)
            try? FileManager.default.removeItem(at: stateFile.deletingLastPathComponent())
        }
        let names = (0..<3).map { Fixtures.eventName(serial: 11529, year: 2026, month: 4, day: 1, hour: 9, minute: $0 * 7) }
        let tenMinutesAgo = Date(timeIntervalSinceNow: -600)
        for (index, name) in names.enumerated() {
            let binary = folder.appendingPathComponent(name)
            let report = folder.appendingPathComponent(name + ".TXT")
            try Fixtures.binary(seed: 500 + UInt64(index)).write(to: binary)
            try Data(Fixtures.waveformReport.utf8).write(to: report)
            for file in [binary, report] {
                try FileManager.default.setAttributes([.modificationDate: tenMinutesAgo], ofItemAtPath: file.path)
            }
        }

        try await withMockServer { server in
            let script = """
                import json, sys
                sys.path.insert(0, sys.argv[1])
                import event_forwarder as f
                state = f.ForwardState(sys.argv[4])
                counts = f.forward_pending(sys.argv[2], sys.argv[3], state, max_age_days=30, timeout=600, logger=lambda m: print(m, file=sys.stderr))
                print(json.dumps(counts))
                """
            let result = try await Self.run(
                ["python3", "-c", script, Self.referenceForwarder.deletingLastPathComponent().path, folder.path,
                 server.baseURL, stateFile.path],
                environment: ["PYTHONDONTWRITEBYTECODE": "1"])
            #expect(result.status == 0, "python3 failed: \(result.error)")
            let counts = try JSONDecoder().decode([String: Int].self, from: Data(result.output.utf8))
            #expect(counts["forwarded"] == 3, "\(result.error)")
            #expect(counts["with_report"] == 3)
            #expect(counts["errors"] == 0)

            let journal = server.mock.journal()
            #expect(journal.count == 3)
            #expect(Set(journal.flatMap { $0.files.map(\.name) }) == Set(names + names.map { $0 + ".TXT" }))
            #expect(journal.allSatisfy { $0.outcome == .imported && $0.files.count == 2 })
            let events = server.mock.events()
            #expect(events.map(\.binaryName) == names)
            #expect(events.allSatisfy { $0.report?.channels["Tran"]?.zeroCrossingFrequency?.bound == .greaterThan })
        }
    }

    @Test("Interop: bench --python-reference names the missing reference forwarder instead of failing later")
    func benchWithoutReference() async throws {
        let missing = "/nonexistent-\(getpid())/event_forwarder.py"
        let result = try await Self.run([ServeCommandTests.executable.path, "bench", "--quick",
                                         "--python-reference", "10", "--python-script", missing])
        #expect(result.status != 0)
        #expect(result.error.contains(missing), "\(result.error)")
        #expect(result.error.contains("outside the repository"), "\(result.error)")
        #expect(result.output.isEmpty, "nothing generated or timed: \(result.output)")
    }

    @Test("Interop: curl's Expect: 100-continue for a large upload is answered")
    func curlExpectContinue() async throws {
        let folder = try makeTemporaryDirectory("curl-large")
        defer { try? FileManager.default.removeItem(at: folder) }
        let name = Fixtures.eventName()
        try Fixtures.binary(seed: 601, byteCount: 1_200_000).write(to: folder.appendingPathComponent(name))
        try await withMockServer { server in
            let result = try await Self.run([
                "curl", "-sS", "-v", "-H", "Expect: 100-continue",
                "-F", "files=@\(folder.appendingPathComponent(name).path)", server.importURL,
            ])
            #expect(result.status == 0, "curl failed: \(result.error)")
            #expect(result.error.contains("HTTP/1.1 100 Continue"), "\(result.error)")
            #expect(server.mock.event(named: name)?.binaryByteCount == 1_200_000)
        }
    }

    @Test("Interop: curl -F posts a binary and its ACH report")
    func curlUpload() async throws {
        let folder = try makeTemporaryDirectory("curl")
        defer { try? FileManager.default.removeItem(at: folder) }
        let name = Fixtures.eventName(serial: 12844, year: 2025, month: 5, day: 6, hour: 18, minute: 18, second: 3,
                                      kind: .histogram)
        let reportName = EventFileRules.reportNames(forBinary: name)[0]
        let binary = Fixtures.binary(seed: 600)
        try binary.write(to: folder.appendingPathComponent(name))
        try Data(Fixtures.histogramReport.utf8).write(to: folder.appendingPathComponent(reportName))

        try await withMockServer { server in
            let result = try await Self.run([
                "curl", "-sS", "--fail-with-body",
                "-F", "files=@\(folder.appendingPathComponent(name).path);type=application/octet-stream",
                "-F", "files=@\(folder.appendingPathComponent(reportName).path);type=text/plain",
                server.importURL + "?serial=BE12844",
            ])
            #expect(result.status == 0, "curl failed: \(result.error) \(result.output)")
            let reply = try JSONDecoder().decode(ImportReply.self, from: Data(result.output.utf8))
            #expect(reply.results.map(\.filename) == [name, reportName])
            #expect(reply.results.first?.inserted == 1)
            let event = try #require(server.mock.event(named: name))
            #expect(event.unitSerial == "BE12844")
            #expect(event.kind == "histogram")
            #expect(event.binaryDigest == EventDigest(of: binary).hex)
            #expect(event.report?.histogram?.intervalSize == "1 minute")
            #expect(server.mock.journal().first?.serialHint == "BE12844")
        }
    }
}
