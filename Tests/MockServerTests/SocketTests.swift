import AsyncHTTPClient
import ForwarderCore
import ForwarderSimulation
import Foundation
import MockSFMServer
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@Suite("Mock SFM over a socket")
struct SocketTests {
    let binaryName = Fixtures.eventName()
    var achReportName: String { EventFileRules.reportNames(forBinary: binaryName)[0] }

    func forwarderRequest(seed: UInt64 = 1, withReport: Bool = true) -> ImportRequest {
        Fixtures.forwarderRequest(binaryName: binaryName, binary: Fixtures.binary(seed: seed),
                                  reportName: withReport ? achReportName : nil,
                                  report: withReport ? Fixtures.waveformReport : nil, serialHint: "BE18190")
    }

    @Test("Socket: the forwarder's upload is imported and the inspection API shows it")
    func contractAndInspection() async throws {
        try await withMockServer { server in
            let reply = try await TestClient.upload(server, forwarderRequest())
            #expect(reply.status == 200)
            let importReply = try TestClient.decode(ImportReply.self, reply)
            #expect(importReply.count == 2)
            #expect(importReply.results.first { $0.filename == binaryName }?.inserted == 1)
            let outcome = ImportReplyClassifier.classify(status: reply.status, retryAfterHeader: nil, body: reply.body,
                                                         binaryName: binaryName)
            #expect(outcome.isAccepted)

            let events = try TestClient.decode([StoredEvent].self, try await TestClient.send(.GET, server.baseURL + "/mock/events"))
            #expect(events.map(\.binaryName) == [binaryName])
            #expect(events.first?.report?.userNotes.first?.label == "Building")
            #expect(events.first?.serialHint == "BE18190")
            let filtered = try TestClient.decode([StoredEvent].self,
                                                 try await TestClient.send(.GET, server.baseURL + "/mock/events?serial=BE1"))
            #expect(filtered.isEmpty)

            let journal = try TestClient.decode([JournalEntry].self, try await TestClient.send(.GET, server.baseURL + "/mock/journal"))
            #expect(journal.count == 1)
            #expect(journal.first?.files.map(\.name) == [binaryName, achReportName])
            #expect(journal.first?.httpStatus == 200)
            #expect(journal == server.mock.journal(), "the HTTP API and the state object agree")

            let stats = try TestClient.decode(MockStats.self, try await TestClient.send(.GET, server.baseURL + "/mock/stats"))
            #expect(stats.inserted == 1)
            #expect(stats.events == 1)

            let again = try TestClient.decode(ImportReply.self, try await TestClient.upload(server, forwarderRequest()))
            #expect(again.results.first { $0.filename == binaryName }?.skipped == 1)

            let reset = try await TestClient.send(.POST, server.baseURL + "/mock/reset")
            #expect(reset.status == 200)
            #expect(server.mock.eventCount == 0)
            #expect(server.mock.journal().isEmpty)
        }
    }

    @Test("Socket: PUT /mock/faults replaces the plan at run time; a bad plan is refused")
    func replaceFaultPlan() async throws {
        try await withMockServer { server in
            let plan = #"{"rules": [{"name": "busy", "fault": {"kind": "httpStatus", "status": 503, "retryAfterSeconds": 9}}]}"#
            let put = try await TestClient.send(.PUT, server.baseURL + "/mock/faults", body: Data(plan.utf8))
            #expect(put.status == 200)
            let installed = try TestClient.decode(FaultPlan.self, try await TestClient.send(.GET, server.baseURL + "/mock/faults"))
            #expect(installed.rules.first?.fault == .httpStatus(code: 503, retryAfterSeconds: 9))

            let refused = try await TestClient.upload(server, forwarderRequest())
            #expect(refused.status == 503)
            #expect(refused.headers.first(name: "Retry-After") == "9")
            #expect(server.mock.eventCount == 0)
            #expect(server.mock.stats().faultsByRule["busy"] == 1)

            let bad = try await TestClient.send(.PUT, server.baseURL + "/mock/faults", body: Data(#"{"rules": 5}"#.utf8))
            #expect(bad.status == 400)
            #expect(String(decoding: bad.body, as: UTF8.self).contains("invalid fault plan"))
            #expect(server.mock.faultPlan.rules.count == 1, "a refused plan leaves the old one in place")

            _ = try await TestClient.send(.PUT, server.baseURL + "/mock/faults", body: Data(#"{"rules": []}"#.utf8))
            #expect(try await TestClient.upload(server, forwarderRequest()).status == 200)
        }
    }

    @Test("Socket: bad input gets 4xx with a JSON detail; oversized bodies get 413")
    func badInput() async throws {
        let mock = MockSFM(configuration: .init(maximumBodyByteCount: 10_000))
        try await withMockServer(mock: mock) { server in
            let notMultipart = try await TestClient.post(server.importURL, contentType: "text/plain", body: Data("hi".utf8))
            #expect(notMultipart.status == 415)
            #expect(try TestClient.decode([String: String].self, notMultipart)["detail"]?.contains("multipart") == true)

            let traversal = Fixtures.multipart([.file("../../etc/\(binaryName)", Fixtures.binary(seed: 2))])
            let refused = try await TestClient.post(server.importURL, contentType: Fixtures.contentType, body: traversal)
            #expect(refused.status == 400)

            let big = Fixtures.multipart([.file(binaryName, Fixtures.binary(seed: 3, byteCount: 20_000))])
            let tooLarge = try await TestClient.post(server.importURL, contentType: Fixtures.contentType, body: big)
            #expect(tooLarge.status == 413)
            #expect(try TestClient.decode([String: String].self, tooLarge)["detail"]?.contains("exceeds the limit") == true)

            #expect(server.mock.eventCount == 0)
            #expect(server.mock.stats().rejectedRequests == 3)
            #expect(try await TestClient.send(.GET, server.baseURL + "/nowhere").status == 404)
        }
    }

    /// What the wire must show for each socket-level fault.
    static let wireFaults: [Fault] = [.connectionReset, .closeWithoutResponse, .malformedChunk, .garbageThenClose(byteCount: 64)]

    @Test("Socket faults: the wire shows a reset, a bare close, a broken chunk or garbage", arguments: wireFaults)
    func socketFaultOnTheWire(_ fault: Fault) async throws {
        let mock = MockSFM(faultPlan: FaultPlan(rules: [FaultRule(name: "wire", fault: fault)]))
        try await withMockServer(mock: mock) { server in
            let form = MultipartFormBody(request: forwarderRequest())
            let result = try await RawConnection.post(port: server.port, contentType: form.contentType, body: form.bytes)
            switch fault {
            case .connectionReset:
                #expect(result.readError == ECONNRESET, "read ended with errno \(String(describing: result.readError))")
                #expect(result.received.isEmpty)
            case .closeWithoutResponse:
                #expect(result.readError == nil)
                #expect(result.received.isEmpty)
            case .malformedChunk:
                let text = String(decoding: result.received, as: UTF8.self)
                #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n"))
                #expect(text.contains("Transfer-Encoding: chunked\r\n\r\nZZ-not-hex\r\n"))
                #expect(result.readError == nil)
            case .garbageThenClose:
                #expect(result.received.count == 64)
                #expect(!result.received.starts(with: Data("HTTP/".utf8)))
                #expect(result.readError == nil)
            default:
                Issue.record("not a wire fault: \(fault)")
            }
            #expect(server.mock.eventCount == 0)
            #expect(server.mock.journal().last?.fault?.kind == fault.kindName)

            await #expect(throws: (any Error).self, "an HTTP client sees a failure") {
                _ = try await TestClient.upload(server, forwarderRequest(seed: 2))
            }
        }
    }

    /// Faults that answer in HTTP, and the outcome the production classifier must reach.
    static let replyFaults: [(Fault, UploadProblem.Kind)] = [
        (.nonJSONBody, .nonJSONReply), (.missingRow, .missingRow), (.fileErrorRow(detail: "db locked"), .fileError),
        (.httpStatus(code: 500, retryAfterSeconds: nil), .httpStatus(500)),
        (.httpStatus(code: 502, retryAfterSeconds: nil), .httpStatus(502)),
        (.httpStatus(code: 408, retryAfterSeconds: nil), .httpStatus(408)),
        (.httpStatus(code: 400, retryAfterSeconds: nil), .httpStatus(400)),
    ]

    @Test("Socket faults: replies that are not an acceptance reach the client intact", arguments: replyFaults)
    func replyFault(_ fault: Fault, _ expected: UploadProblem.Kind) async throws {
        try await withMockServer(mock: MockSFM(faultPlan: FaultPlan(rules: [FaultRule(name: "reply", fault: fault)]))) { server in
            let reply = try await TestClient.upload(server, forwarderRequest())
            let outcome = ImportReplyClassifier.classify(status: reply.status, retryAfterHeader: nil, body: reply.body,
                                                         binaryName: binaryName)
            switch outcome {
            case .accepted: Issue.record("\(fault) must not be accepted")
            case .rejected(let problem), .failed(let problem): #expect(problem.kind == expected)
            }
            #expect(server.mock.eventCount == 0)
            #expect(server.mock.journal().last?.httpStatus == reply.status)
        }
    }

    @Test("Socket faults: a response lost after commit is stored although the client fails")
    func lostAfterCommit() async throws {
        let plan = FaultPlan(rules: [FaultRule(name: "lost", fault: .connectionReset, requests: RequestRange(first: 1, last: 1),
                                               afterStore: true)])
        try await withMockServer(mock: MockSFM(faultPlan: plan)) { server in
            await #expect(throws: (any Error).self) {
                _ = try await TestClient.upload(server, forwarderRequest())
            }
            #expect(server.mock.eventCount == 1)
            let retry = try TestClient.decode(ImportReply.self, try await TestClient.upload(server, forwarderRequest()))
            #expect(retry.results.first { $0.filename == binaryName }?.skipped == 1)
        }
    }

    @Test("Socket faults: no answer holds the connection until the client gives up")
    func noAnswer() async throws {
        // Bounds come from the hang and the client's timeouts, not from how fast this machine is:
        // whatever ends a wait must end it before the hang would have.
        let hang = Duration.seconds(1200)
        let plan = FaultPlan(rules: [FaultRule(name: "hang", fault: .noAnswer(maximum: hang))])
        try await withMockServer(mock: MockSFM(faultPlan: plan)) { server in
            let clock = ContinuousClock()
            let start = clock.now
            await #expect(throws: HTTPClientError.deadlineExceeded) {
                _ = try await TestClient.upload(server, forwarderRequest(), timeout: .milliseconds(300))
            }
            #expect(clock.now - start < hang / 2, "the client's deadline ended the wait, not the hang")

            let form = MultipartFormBody(request: forwarderRequest(seed: 2))
            let clientTimeout = hang / 2
            let result = try await RawConnection.post(port: server.port, contentType: form.contentType, body: form.bytes,
                                                      halfCloseAfterSending: true, timeout: clientTimeout)
            #expect(result.received.isEmpty)
            #expect(result.readError == nil, "the server closes when the client closes its side")
            #expect(result.elapsed < clientTimeout, "the server's close ended the wait, not the client's timeout")
            #expect(server.mock.stats().faultsByKind["noAnswer"] == 2)
            #expect(server.mock.eventCount == 0)
        }
    }

    @Test("Socket faults: a hung request does not hold up shutdown")
    func shutdownWhileHung() async throws {
        // Shutdown must not wait for the hang: it has to end well before the hang would have, and the
        // client must see the connection closed rather than reach its own (longer) timeout.
        let hang = Duration.seconds(1200)
        let plan = FaultPlan(rules: [FaultRule(name: "hang", fault: .noAnswer(maximum: hang))])
        let server = try await MockSFMServer.start(mock: MockSFM(faultPlan: plan))
        let form = MultipartFormBody(request: forwarderRequest())
        let port = server.port
        let clientTimeout = hang * 2
        let client = Task {
            try await RawConnection.post(port: port, contentType: form.contentType, body: form.bytes, timeout: clientTimeout)
        }
        while server.mock.stats().requests == 0 { try await Task.sleep(for: .milliseconds(10)) }
        let clock = ContinuousClock()
        let start = clock.now
        try await server.shutdown()
        #expect(clock.now - start < hang / 2)
        let result = try await client.value
        #expect(result.received.isEmpty)
        #expect(result.elapsed < hang, "closed by the shutdown, not at the hang's end or the client's timeout")
    }

    @Test("Socket faults: HTTP statuses, delays and slow bodies as a client sees them")
    func statusDelayAndSlowBody() async throws {
        let plan = FaultPlan(rules: [
            FaultRule(name: "throttle", fault: .httpStatus(code: 429, retryAfterSeconds: 3), requests: RequestRange(first: 1, last: 1)),
            FaultRule(name: "late", fault: .delay(.fixed(.milliseconds(300))), requests: RequestRange(first: 2, last: 2)),
            FaultRule(name: "trickle", fault: .slowBody(chunkByteCount: 16, interval: .milliseconds(20)),
                      requests: RequestRange(first: 3, last: 3)),
        ])
        try await withMockServer(mock: MockSFM(faultPlan: plan)) { server in
            let throttled = try await TestClient.upload(server, forwarderRequest(seed: 1))
            #expect(throttled.status == 429)
            #expect(throttled.headers.first(name: "Retry-After") == "3")
            let outcome = ImportReplyClassifier.classify(status: throttled.status, retryAfterHeader: "3", body: throttled.body,
                                                         binaryName: binaryName)
            #expect(outcome == .failed(UploadProblem(kind: .httpStatus(429), detail: String(decoding: throttled.body, as: UTF8.self),
                                                     retryAfter: .seconds(3))))

            let clock = ContinuousClock()
            var start = clock.now
            let delayed = try await TestClient.upload(server, forwarderRequest(seed: 1))
            #expect(delayed.status == 200)
            #expect(clock.now - start >= .milliseconds(300))

            start = clock.now
            let slow = try await TestClient.upload(server, forwarderRequest(seed: 1))
            let elapsed = clock.now - start
            let reply = try TestClient.decode(ImportReply.self, slow)
            #expect(reply.results.count == 2)
            let chunkCount = (slow.body.count + 15) / 16
            #expect(elapsed >= .milliseconds(20 * (chunkCount - 1)), "\(chunkCount) chunks took \(elapsed)")
        }
    }

    @Test("Socket: concurrent keep-alive clients each get their own rows and a journal entry")
    func concurrentClients() async throws {
        try await withMockServer { server in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for client in 0..<4 {
                    group.addTask {
                        for index in 0..<25 {
                            let name = Fixtures.eventName(serial: 10_000 + client, minute: index)
                            let request = Fixtures.forwarderRequest(binaryName: name,
                                                                    binary: Fixtures.binary(seed: UInt64(client * 100 + index)))
                            let reply = try TestClient.decode(ImportReply.self, try await TestClient.upload(server, request))
                            #expect(reply.results == [ImportFileResult(
                                filename: name, status: "ok", filesize: 4400, inserted: 1, skipped: 0,
                                detail: reply.results.first?.detail)])
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(server.mock.eventCount == 100)
            let journal = server.mock.journal()
            #expect(journal.map(\.sequence) == Array(1...100))
            #expect(Set(journal.flatMap { $0.files.map(\.name) }).count == 100)
            #expect(server.mock.stats().inserted == 100)
        }
    }

    @Test("Socket: starting on a port that is taken fails instead of hanging")
    func busyPort() async throws {
        try await withMockServer { server in
            await #expect(throws: (any Error).self) {
                let second = try await MockSFMServer.start(host: "127.0.0.1", port: server.port)
                try await second.shutdown()
            }
        }
    }

    @Test("Socket: --store keeps every stored file on disk under its own name")
    func archive() async throws {
        let directory = try makeTemporaryDirectory("archive")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await withMockServer(archiveDirectory: directory) { server in
            let request = forwarderRequest()
            _ = try await TestClient.upload(server, request)
            let stored = try Data(contentsOf: directory.appendingPathComponent(binaryName))
            #expect(stored == request.binary.contents)
            let report = try String(contentsOf: directory.appendingPathComponent(achReportName), encoding: .utf8)
            #expect(report == Fixtures.waveformReport)
        }
    }
}
