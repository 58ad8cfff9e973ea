import ForwarderCore
import ForwarderSimulation
import Foundation
import Testing

@Suite("Fault plans")
struct FaultPlanTests {
    let binaryName = Fixtures.eventName()

    /// A mock whose plan fires `fault` on every request.
    func mock(always fault: Fault, afterStore: Bool = false) -> MockSFM {
        MockSFM(faultPlan: FaultPlan(rules: [FaultRule(name: "always", fault: fault, afterStore: afterStore)]),
                planInstalledAt: Fixtures.startTime)
    }

    func upload(_ mock: MockSFM, minute: Int = 0, at offset: Duration = .zero) -> MockExchange {
        let name = Fixtures.eventName(minute: minute)
        return mock.handleImport(Fixtures.forwarderRequest(binaryName: name, binary: Fixtures.binary(seed: UInt64(minute))),
                                 receivedAt: Fixtures.startTime + offset)
    }

    static let socketFaults: [Fault] = [
        .connectionReset, .closeWithoutResponse, .malformedChunk, .garbageThenClose(byteCount: 64),
        .noAnswer(maximum: .seconds(5)),
    ]

    @Test("Faults: socket-level faults store nothing and say what the socket must do", arguments: socketFaults)
    func socketFaultBeforeStore(_ fault: Fault) throws {
        let mock = mock(always: fault)
        let exchange = upload(mock)
        guard case .socketFault(let socketFault, let delay) = exchange.reply else {
            Issue.record("expected a socket fault, got \(exchange.reply)")
            return
        }
        #expect(socketFault.kindName == fault.kindName)
        #expect(delay == .zero)
        #expect(mock.eventCount == 0)
        #expect(exchange.journalEntry.outcome == .faulted)
        #expect(exchange.journalEntry.stored == false)
        #expect(exchange.journalEntry.httpStatus == nil)
        #expect(exchange.journalEntry.fault == FiredRule(rule: "always", kind: fault.kindName, afterStore: false))
        #expect(exchange.journalEntry.files.count == 1, "the journal still names what arrived")
        #expect(mock.stats().faultsByKind[fault.kindName] == 1)
        switch socketFault {
        case .garbageThenClose(let bytes): #expect(bytes.count == 64)
        case .malformedChunk(let bytes):
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n"))
            #expect(text.contains("Transfer-Encoding: chunked"))
        case .noAnswer(let maximum): #expect(maximum == .seconds(5))
        case .connectionReset, .closeWithoutResponse: break
        }
    }

    @Test("Faults: each reply maps to the outcome the production uploader would reach")
    func uploadOutcomes() {
        #expect(upload(MockSFM()).reply.uploadOutcome(forBinary: binaryName).isAccepted)
        let expectations: [(Fault, UploadProblem.Kind, Bool)] = [
            (.connectionReset, .transport, true), (.closeWithoutResponse, .transport, true),
            (.malformedChunk, .transport, true), (.garbageThenClose(byteCount: 8), .transport, true),
            (.noAnswer(maximum: .seconds(1)), .timeout, true),
            (.httpStatus(code: 503, retryAfterSeconds: 4), .httpStatus(503), true),
            (.httpStatus(code: 400, retryAfterSeconds: nil), .httpStatus(400), false),
            (.nonJSONBody, .nonJSONReply, false), (.missingRow, .missingRow, false),
            (.fileErrorRow(detail: "x"), .fileError, false),
        ]
        for (fault, kind, retryable) in expectations {
            switch upload(mock(always: fault)).reply.uploadOutcome(forBinary: binaryName) {
            case .accepted: Issue.record("\(fault) must not be accepted")
            case .failed(let problem):
                #expect(problem.kind == kind, "\(fault)")
                #expect(retryable, "\(fault) must not be retryable")
            case .rejected(let problem):
                #expect(problem.kind == kind, "\(fault)")
                #expect(!retryable, "\(fault) must be retryable")
            }
        }
        let busy = upload(mock(always: .httpStatus(code: 503, retryAfterSeconds: 4))).reply
        guard case .failed(let problem) = busy.uploadOutcome(forBinary: binaryName) else { return }
        #expect(problem.retryAfter == .seconds(4))
    }

    @Test("Faults: a response lost after commit stores the event but fails the connection")
    func responseLostAfterCommit() {
        let mock = mock(always: .connectionReset, afterStore: true)
        let exchange = upload(mock)
        #expect(exchange.reply == .socketFault(.connectionReset, delay: .zero))
        #expect(mock.eventCount == 1)
        #expect(exchange.journalEntry.stored)
        #expect(exchange.journalEntry.rows.first?.inserted == 1, "the journal keeps the rows the client never saw")
        #expect(mock.stats().storedThenFaulted == 1)
        #expect(upload(mock).reply == .socketFault(.connectionReset, delay: .zero))
        #expect(mock.stats().skipped == 1, "the retry finds the event already stored")
    }

    @Test("Faults: HTTP statuses carry a JSON detail and Retry-After when asked",
          arguments: [(500, nil), (502, nil), (503, 7), (429, 30), (408, nil), (400, nil)] as [(Int, Int?)])
    func httpStatus(_ code: Int, _ retryAfterSeconds: Int?) throws {
        let mock = mock(always: .httpStatus(code: code, retryAfterSeconds: retryAfterSeconds))
        let response = try #require(upload(mock).response)
        #expect(response.status == code)
        #expect(response.header("Retry-After") == retryAfterSeconds.map(String.init))
        #expect(String(decoding: response.body, as: UTF8.self).contains("\"detail\""))
        #expect(mock.eventCount == 0)
        let outcome = ImportReplyClassifier.classify(status: response.status, retryAfterHeader: response.header("Retry-After"),
                                                     body: response.body, binaryName: binaryName)
        #expect(!outcome.isAccepted)
    }

    @Test("Faults: non-JSON body, missing row and error row are refused by the classifier")
    func replyShapeFaults() throws {
        let nonJSON = try #require(upload(mock(always: .nonJSONBody)).response)
        #expect(nonJSON.status == 200)
        #expect(nonJSON.importReply == nil)
        #expect(nonJSON.header("Content-Type") == "text/html")

        let missingMock = mock(always: .missingRow)
        let missing = upload(missingMock)
        #expect(missing.response?.status == 200)
        #expect(missing.response?.importReply?.results.isEmpty == true)
        #expect(missingMock.eventCount == 0)

        let errorMock = mock(always: .fileErrorRow(detail: "database locked"))
        let error = upload(errorMock)
        #expect(error.row(binaryName)?.status == "error")
        #expect(error.row(binaryName)?.detail == "database locked")
        #expect(errorMock.eventCount == 0)

        let nonJSONOutcome = ImportReplyClassifier.classify(status: nonJSON.status, retryAfterHeader: nil,
                                                            body: nonJSON.body, binaryName: binaryName)
        guard case .rejected(let nonJSONProblem) = nonJSONOutcome else {
            Issue.record("a non-JSON reply must be rejected")
            return
        }
        #expect(nonJSONProblem.kind == .nonJSONReply)
        let missingOutcome = ImportReplyClassifier.classify(status: 200, retryAfterHeader: nil,
                                                            body: missing.response?.body ?? Data(), binaryName: binaryName)
        guard case .rejected(let problem) = missingOutcome else {
            Issue.record("missing row must be rejected")
            return
        }
        #expect(problem.kind == .missingRow)
    }

    @Test("Faults: an error row after commit stores the event")
    func errorRowAfterCommit() {
        let mock = mock(always: .fileErrorRow(detail: "late failure"), afterStore: true)
        let exchange = upload(mock)
        #expect(exchange.row(binaryName)?.status == "error")
        #expect(mock.eventCount == 1)
    }

    @Test("Faults: delays are fixed, uniform within bounds, or log-normal around the median")
    func delays() throws {
        let fixed = upload(mock(always: .delay(.fixed(.milliseconds(250)))))
        #expect(fixed.response?.delay == .milliseconds(250))
        #expect(fixed.response?.status == 200)

        let uniformMock = mock(always: .delay(.uniform(minimum: .milliseconds(10), maximum: .milliseconds(20))))
        let uniformDelays = (0..<50).compactMap { upload(uniformMock, minute: $0).response?.delay }
        #expect(uniformDelays.count == 50)
        #expect(uniformDelays.allSatisfy { $0 >= .milliseconds(10) && $0 <= .milliseconds(20) })
        #expect(Set(uniformDelays).count > 40)

        let logNormalMock = mock(always: .delay(.logNormal(median: .milliseconds(20), percentile95: .milliseconds(200))))
        let logNormalDelays = (0..<400).compactMap { upload(logNormalMock, minute: $0).response?.delay }.sorted()
        let median = logNormalDelays[logNormalDelays.count / 2]
        #expect(median > .milliseconds(14) && median < .milliseconds(28), "median \(median)")
        #expect(logNormalDelays.last! > .milliseconds(100))
        #expect(logNormalMock.eventCount == 400, "delays do not stop the import")
    }

    @Test("Faults: delays and slow bodies combine with a terminal fault")
    func modifiersCombine() {
        let plan = FaultPlan(rules: [
            FaultRule(name: "slow", fault: .slowBody(chunkByteCount: 8, interval: .milliseconds(5))),
            FaultRule(name: "late", fault: .delay(.fixed(.milliseconds(30)))),
            FaultRule(name: "reset", fault: .connectionReset),
        ])
        let exchange = upload(MockSFM(faultPlan: plan, planInstalledAt: Fixtures.startTime))
        #expect(exchange.reply == .socketFault(.connectionReset, delay: .milliseconds(30)))
        #expect(exchange.journalEntry.firedRules.map(\.rule) == ["slow", "late", "reset"])

        let slow = upload(mock(always: .slowBody(chunkByteCount: 8, interval: .milliseconds(5))))
        #expect(slow.response?.bodyPacing == BodyPacing(chunkByteCount: 8, interval: .milliseconds(5)))
        let bodyByteCount = slow.response?.body.count ?? 0
        #expect(slow.response?.duration == .milliseconds(5) * ((bodyByteCount + 7) / 8 - 1))
        #expect(fixedDelayDuration() == .milliseconds(250))
        #expect(slow.row(binaryName)?.inserted == 1)
    }

    func fixedDelayDuration() -> Duration? {
        upload(mock(always: .delay(.fixed(.milliseconds(250))))).response?.duration
    }

    @Test("Outage: down for a range of request numbers, counted from plan install")
    func requestRangeOutage() {
        let plan = FaultPlan(rules: [FaultRule(name: "outage", fault: .httpStatus(code: 503, retryAfterSeconds: 1),
                                               requests: RequestRange(first: 2, last: 3))])
        let mock = MockSFM(faultPlan: plan, planInstalledAt: Fixtures.startTime)
        let statuses = (0..<5).map { upload(mock, minute: $0).response?.status }
        #expect(statuses == [200, 503, 503, 200, 200])
        #expect(mock.eventCount == 3)

        mock.replaceFaultPlan(plan, installedAt: nil)
        #expect(upload(mock, minute: 10).response?.status == 200)
        #expect(upload(mock, minute: 11).response?.status == 503, "numbering restarts with the new plan")
    }

    @Test("Outage: down for a time window since plan install")
    func timeWindowOutage() {
        let plan = FaultPlan(rules: [FaultRule(name: "down", fault: .connectionReset,
                                               window: TimeWindow(startSeconds: 10, durationSeconds: 30))])
        let mock = MockSFM(faultPlan: plan, planInstalledAt: Fixtures.startTime)
        let faulted = [0, 9, 10, 25, 39, 40, 100].map { second in
            upload(mock, minute: second, at: .seconds(second)).journalEntry.outcome == .faulted
        }
        #expect(faulted == [false, false, true, true, true, false, false])
    }

    @Test("Faults: probabilities are drawn from the seed, the same for the same seed")
    func seededProbability() {
        func pattern(seed: UInt64) -> [Bool] {
            let plan = FaultPlan(seed: seed, rules: [FaultRule(name: "flaky", fault: .closeWithoutResponse, probability: 0.3)])
            let mock = MockSFM(faultPlan: plan, planInstalledAt: Fixtures.startTime)
            return (0..<200).map { upload(mock, minute: $0).journalEntry.outcome == .faulted }
        }
        let first = pattern(seed: 42)
        #expect(first == pattern(seed: 42))
        #expect(first != pattern(seed: 43))
        let rate = Double(first.filter { $0 }.count) / Double(first.count)
        #expect(rate > 0.2 && rate < 0.4, "rate \(rate)")
    }

    @Test("Faults: the configuration seed is used when the plan has none")
    func configurationSeed() {
        func pattern(seed: UInt64) -> [Bool] {
            let plan = FaultPlan(rules: [FaultRule(name: "flaky", fault: .connectionReset, probability: 0.5)])
            let mock = MockSFM(configuration: .init(seed: seed), faultPlan: plan, planInstalledAt: Fixtures.startTime)
            return (0..<64).map { upload(mock, minute: $0).journalEntry.outcome == .faulted }
        }
        #expect(pattern(seed: 1) == pattern(seed: 1))
        #expect(pattern(seed: 1) != pattern(seed: 2))
    }

    @Test("Fault plan: the documented JSON decodes and round-trips")
    func planJSON() throws {
        let json = """
            {
              "seed": 7,
              "rules": [
                {"name": "flaky-reset", "fault": {"kind": "connectionReset"}, "probability": 0.02},
                {"name": "lost-after-commit", "fault": {"kind": "connectionReset"}, "probability": 0.01, "afterStore": true},
                {"name": "outage", "fault": {"kind": "httpStatus", "status": 503, "retryAfterSeconds": 5},
                 "requests": {"first": 100, "last": 400}},
                {"name": "down-window", "fault": {"kind": "closeWithoutResponse"},
                 "window": {"startSeconds": 10, "durationSeconds": 30}},
                {"name": "latency", "fault": {"kind": "delay",
                 "distribution": {"kind": "logNormal", "medianMilliseconds": 20, "percentile95Milliseconds": 200}}},
                {"name": "jitter", "fault": {"kind": "delay",
                 "distribution": {"kind": "uniform", "minimumMilliseconds": 1, "maximumMilliseconds": 5}}},
                {"name": "pause", "fault": {"kind": "delay", "distribution": {"kind": "fixed", "milliseconds": 100}}},
                {"name": "trickle", "fault": {"kind": "slowBody", "chunkByteCount": 16, "intervalMilliseconds": 50}},
                {"name": "hang", "fault": {"kind": "noAnswer", "maximumSeconds": 120}, "probability": 0.001},
                {"name": "noise", "fault": {"kind": "garbageThenClose", "byteCount": 256}, "probability": 0.001},
                {"name": "chunk", "fault": {"kind": "malformedChunk"}, "probability": 0.001},
                {"name": "html", "fault": {"kind": "nonJSONBody"}, "probability": 0.001},
                {"name": "no-row", "fault": {"kind": "missingRow"}, "probability": 0.001},
                {"name": "row-error", "fault": {"kind": "fileErrorRow", "detail": "db locked"}, "probability": 0.001}
              ]
            }
            """
        let plan = try FaultPlan(json: Data(json.utf8))
        #expect(plan.seed == 7)
        #expect(plan.rules.count == 14)
        #expect(plan.rules[1].afterStore == true)
        #expect(plan.rules[2].fault == .httpStatus(code: 503, retryAfterSeconds: 5))
        #expect(plan.rules[2].requests == RequestRange(first: 100, last: 400))
        #expect(plan.rules[3].window == TimeWindow(startSeconds: 10, durationSeconds: 30))
        #expect(plan.rules[4].fault == .delay(.logNormal(median: .milliseconds(20), percentile95: .milliseconds(200))))
        #expect(plan.rules[6].fault == .delay(.fixed(.milliseconds(100))))
        #expect(plan.rules[7].fault == .slowBody(chunkByteCount: 16, interval: .milliseconds(50)))
        #expect(plan.rules[8].fault == .noAnswer(maximum: .seconds(120)))
        #expect(plan.rules[13].fault == .fileErrorRow(detail: "db locked"))
        let roundTripped = try FaultPlan(json: JSONEncoder().encode(plan))
        #expect(roundTripped == plan)
    }

    @Test("Fault plan: an unknown kind is an error that names it")
    func unknownKind() {
        let json = #"{"rules": [{"name": "x", "fault": {"kind": "meteorStrike"}}]}"#
        #expect {
            try FaultPlan(json: Data(json.utf8))
        } throws: { error in
            String(describing: error).contains("meteorStrike")
        }
    }
}

