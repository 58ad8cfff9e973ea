import ForwarderCore
import ForwarderIO
import Foundation
import Synchronization
import Testing

/// Answers one upload with a 429 or 503 carrying `Retry-After`, classified as over a socket,
/// and accepts every other.
func busyOnce(status: Int, retryAfterHeader: String, onUpload busyIndex: Int = 0)
    -> @Sendable (Int, ImportRequest) -> UploadOutcome {
    { index, request in
        guard index == busyIndex else { return RecordingUploader.acceptAll(request) }
        return ImportReplyClassifier.classify(status: status, retryAfterHeader: retryAfterHeader,
                                              body: Data(#"{"detail": "busy"}"#.utf8), binaryName: request.binary.name)
    }
}

/// An uploader that answers by the upload's place in the sequence, and remembers each request.
final class SequencedUploader: EventUploader {
    private let state = Mutex<[ImportRequest]>([])
    private let answer: @Sendable (Int, ImportRequest) -> UploadOutcome

    init(answer: @escaping @Sendable (Int, ImportRequest) -> UploadOutcome) { self.answer = answer }

    var requests: [ImportRequest] { state.withLock { $0 } }

    func upload(_ request: ImportRequest) async -> UploadOutcome {
        let index = state.withLock { requests in
            requests.append(request)
            return requests.count - 1
        }
        return answer(index, request)
    }
}

@Suite("Server pause")
struct ServerPauseTests {
    /// 2026-05-08T10:00:00Z, so that HTTP-dates in the tests can be written out literally.
    static let start = FileTime(secondsSince1970: 1_778_234_400)

    /// Ten events, a forwarder with one upload in flight, and an uploader the test scripts.
    static func world(answer: @escaping @Sendable (Int, ImportRequest) -> UploadOutcome)
        throws -> (ForwarderWorld, EventForwarder, SequencedUploader) {
        let world = try ForwarderWorld()
        world.clock.advance(by: start - world.clock.now())
        world.policy.forwardsPerPassLimit = nil
        for index in 0..<10 { try world.event(index, ageSeconds: Double(5000 - index * 10)) }
        let uploader = SequencedUploader(answer: answer)
        let forwarder = EventForwarder(folder: LocalEventFolder(path: world.folder.file("ach")), uploader: uploader,
                                       store: try FileStateStore(path: world.statePath), clock: world.clock,
                                       policy: world.policy, logger: quietLogger)
        return (world, forwarder, uploader)
    }

    @Test("Pause: a 429 with Retry-After in seconds holds every event until then, then all go", arguments: [429, 503])
    func pauseInSeconds(status: Int) async throws {
        let (world, forwarder, uploader) = try Self.world(answer: busyOnce(status: status, retryAfterHeader: "120"))
        let first = try await forwarder.runPass()
        #expect(uploader.requests.count == 1, "no upload starts after the server asked to wait")
        #expect(first.skips[.serverAskedToWait] == 9)
        #expect(first.serverAskedToWaitUntil == Self.start + .seconds(120))
        #expect(first.summary.contains("skip.serverAskedToWait=9"))

        // 61 s before the time: longer than a pass waits (60 s by default), so the pass ends.
        world.clock.advance(by: .seconds(59))
        let during = try await forwarder.runPass()
        #expect(uploader.requests.count == 1, "a pass before the time starts nothing")
        #expect(during.skips[.serverAskedToWait] == 9)
        #expect(during.skips[.backingOff] == 1, "the refused event keeps its own backoff")

        world.clock.advance(by: .seconds(61))
        let after = try await forwarder.runPass()
        #expect(after.forwarded == 10, "at the time named, every event goes, the refused one included")
        #expect(after.skips[.serverAskedToWait] == nil)
        #expect(after.serverAskedToWaitUntil == nil)
        #expect(uploader.requests.count == 11)
    }

    @Test("Pause: a wait up to the pass interval is waited out inside the pass; a longer one ends it",
          arguments: [(59, true), (60, true), (61, false)])
    func shortPauseWithinPass(seconds: Int, waitedWithinPass: Bool) async throws {
        let (world, _, uploader) = try Self.world(answer: busyOnce(status: 429, retryAfterHeader: "\(seconds)"))
        let forwarder = EventForwarder(folder: LocalEventFolder(path: world.achPath), uploader: uploader,
                                       store: try FileStateStore(path: world.statePath), clock: world.clock,
                                       policy: world.policy, longestPauseWithinPass: .seconds(60), logger: quietLogger)
        let pass = try await forwarder.runPass()
        if waitedWithinPass {
            #expect(pass.forwarded == 10, "all go in the same pass once the wait is over, the refused one first")
            let names = uploader.requests.map(\.binary.name)
            #expect(names.count > 1 && names[1] == names[0], "the refused event is sent again first")
            #expect(pass.skips[.serverAskedToWait] == nil)
            #expect(world.clock.now() >= Self.start + .seconds(seconds), "nothing started before the time named")
        } else {
            #expect(pass.forwarded == 0)
            #expect(pass.skips[.serverAskedToWait] == 9)
            #expect(world.clock.now() < Self.start + .seconds(seconds))
        }
        #expect(uploader.requests.count == (waitedWithinPass ? 11 : 1))
    }

    @Test("Pause: a pass that starts inside a pause it waits out plans after it, so the refused event goes in that pass")
    func passStartingInsidePause() async throws {
        let (world, _, uploader) = try Self.world(answer: busyOnce(status: 429, retryAfterHeader: "90"))
        let forwarder = EventForwarder(folder: LocalEventFolder(path: world.achPath), uploader: uploader,
                                       store: try FileStateStore(path: world.statePath), clock: world.clock,
                                       policy: world.policy, longestPauseWithinPass: .seconds(60), logger: quietLogger)
        let first = try await forwarder.runPass()
        #expect(first.skips[.serverAskedToWait] == 9, "90 s is longer than a pass waits: the pass ends")
        world.clock.advance(by: .seconds(40))
        let second = try await forwarder.runPass()
        #expect(second.forwarded == 10, "planned after the pause, the refused event is due in this pass")
        #expect(second.skips[.backingOff] == nil)
        #expect(second.startedAt >= Self.start + .seconds(90), "the pass planned once the pause was over")
        #expect(uploader.requests.count == 11)
    }

    @Test("Pause: 429s with Retry-After never open the circuit; the refused events go again within the pass")
    func pausesDoNotOpenTheCircuit() async throws {
        let (world, _, uploader) = try Self.world { index, request in
            guard index < 8 else { return RecordingUploader.acceptAll(request) }
            return ImportReplyClassifier.classify(status: 429, retryAfterHeader: "1", body: Data(#"{"detail": "busy"}"#.utf8),
                                                  binaryName: request.binary.name)
        }
        let forwarder = EventForwarder(folder: LocalEventFolder(path: world.achPath), uploader: uploader,
                                       store: try FileStateStore(path: world.statePath), clock: world.clock,
                                       policy: world.policy, longestPauseWithinPass: .seconds(60), logger: quietLogger)
        let pass = try await forwarder.runPass()
        #expect(!pass.circuitOpened, "eight refusals in a row, each with a pause: the server is up")
        #expect(pass.skips[.serverUnavailable] == nil)
        #expect(pass.forwarded == 10)
        #expect(uploader.requests.count == 18)
        #expect(world.clock.now() >= Self.start + .seconds(8), "each refusal's second was waited out")
        #expect(await !forwarder.circuitIsOpen)
    }

    @Test("Circuit: with every event backing off, the open circuit probes with the one due first; its answer frees the rest")
    func probeWhileEverythingBacksOff() async throws {
        let (world, _, uploader) = try Self.world { index, request in
            index < 10 ? .failed(UploadProblem(kind: .transport, detail: "connection refused"))
                : RecordingUploader.acceptAll(request)
        }
        let forwarder = EventForwarder(folder: LocalEventFolder(path: world.achPath), uploader: uploader,
                                       store: try FileStateStore(path: world.statePath), clock: world.clock,
                                       policy: world.policy, retryPolicy: RetryPolicy(baseDelay: .seconds(600)),
                                       retrySeed: 3, logger: quietLogger)
        let opened = try await forwarder.runPass()
        #expect(opened.circuitOpened && opened.failed == 5)
        // Each later pass probes with one of the five events never tried, and fails.
        for _ in 0..<5 {
            world.clock.advance(by: .seconds(1))
            let probe = try await forwarder.runPass()
            #expect(probe.uploadsAttempted == 1 && probe.failed == 1)
        }
        world.clock.advance(by: .seconds(1))
        let recovered = try await forwarder.runPass()
        #expect(recovered.pending == 0 && recovered.skips[.backingOff] == 10, "every event waits minutes")
        #expect(recovered.uploadsAttempted == 1 && recovered.forwarded == 1, "the probe went anyway, and was accepted")
        world.clock.advance(by: .seconds(1))
        let after = try await forwarder.runPass()
        #expect(after.forwarded == 9, "the server answers again: the others' backoffs are over")
        #expect(uploader.requests.count == 20)
    }

    @Test("Circuit: a probe the server accepts closes the circuit, and the same pass sends the rest")
    func acceptedProbeResumesThePass() async throws {
        let world = try ForwarderWorld()
        world.policy.forwardsPerPassLimit = nil
        for index in 0..<10 { try world.event(index, ageSeconds: Double(5000 - index * 10)) }
        let store = try FileStateStore(path: world.statePath)
        try store.recordConsecutiveFailures(5)
        let uploader = SequencedUploader { _, request in RecordingUploader.acceptAll(request) }
        let forwarder = EventForwarder(folder: LocalEventFolder(path: world.folder.file("ach")), uploader: uploader,
                                       store: store, clock: world.clock, policy: world.policy,
                                       uploadConcurrency: 4, retryPolicy: RetryPolicy(circuitBreakerFailures: 5),
                                       logger: quietLogger)
        #expect(await forwarder.circuitIsOpen, "five failures kept in the state open the circuit at start")
        let report = try await forwarder.runPass()
        #expect(!report.circuitOpened && report.skips[.serverUnavailable] == nil,
                "the probe's answer is awaited before anything else may start")
        #expect(report.forwarded == 10 && uploader.requests.count == 10, "the rest go in this pass, not the next")
        #expect(await !forwarder.circuitIsOpen)
    }

    @Test("Pause: a 503 with an HTTP-date holds every event until that time")
    func pauseUntilDate() async throws {
        let (world, forwarder, uploader) = try Self.world(
            answer: busyOnce(status: 503, retryAfterHeader: "Fri, 08 May 2026 10:05:00 GMT", onUpload: 2))
        let first = try await forwarder.runPass()
        #expect(first.forwarded == 2)
        #expect(first.skips[.serverAskedToWait] == 7)
        #expect(first.serverAskedToWaitUntil == Self.start + .seconds(300))

        world.clock.advance(by: .seconds(239))
        _ = try await forwarder.runPass()
        #expect(uploader.requests.count == 3)

        world.clock.advance(by: .seconds(61))
        let after = try await forwarder.runPass()
        #expect(after.forwarded == 8)
        #expect(uploader.requests.count == 11)
    }

    @Test("Pause: a Retry-After on another status, or a date already past, pauses nothing")
    func noPause() async throws {
        for (status, header) in [(500, "120"), (429, "Fri, 08 May 2026 09:59:59 GMT"), (429, "soon")] {
            let (world, forwarder, uploader) = try Self.world(answer: busyOnce(status: status, retryAfterHeader: header))
            let report = try await forwarder.runPass()
            #expect(report.forwarded == 9, "status \(status), Retry-After \(header)")
            #expect(report.skips[.serverAskedToWait] == nil)
            #expect(uploader.requests.count == 10)
            #expect(world.uploadedNames.isEmpty, "the world's own uploader is not used; this keeps its folder alive")
        }
    }

    @Test("Pause: a Retry-After of weeks is cut to a day")
    func pauseCappedToADay() async throws {
        let (world, forwarder, uploader) = try Self.world(answer: busyOnce(status: 429, retryAfterHeader: "3000000"))
        let first = try await forwarder.runPass()
        #expect(first.serverAskedToWaitUntil == Self.start + .seconds(86_400))
        world.clock.advance(by: .seconds(86_400))
        let after = try await forwarder.runPass()
        #expect(after.forwarded == 10)
        #expect(uploader.requests.count == 11)
    }
}
