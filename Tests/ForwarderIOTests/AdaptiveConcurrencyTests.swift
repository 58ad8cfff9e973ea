import ForwarderCore
import ForwarderIO
import Foundation
import Logging
import Synchronization
import Testing

/// A test clock whose round trips are scripted: the uploader says how long its answer took, and
/// `measure` reports exactly that, whatever other uploads run beside it.
///
/// Advancing one shared clock from concurrent uploads would give each a round trip that depends
/// on how the tasks interleave; a task-local latency keeps every run the same.
final class ScriptedRoundTripClock: ForwarderClock {
    final class Latency: Sendable {
        let value = Mutex<Duration>(.zero)
    }

    @TaskLocal static var latency: Latency?

    private let current: Mutex<FileTime>

    init(_ start: FileTime) { current = Mutex(start) }

    func now() -> FileTime { current.withLock { $0 } }

    func advance(by duration: Duration) { current.withLock { $0 = $0 + duration } }

    func sleep(for duration: Duration) async throws { advance(by: duration) }

    func measure<Result>(_ operation: () async -> Result) async -> (result: Result, elapsed: Duration) {
        let latency = Latency()
        let result = await Self.$latency.withValue(latency) { await operation() }
        return (result, latency.value.withLock { $0 })
    }
}

/// Answers each event as the script says, after the scripted latency, and keeps the peak of
/// uploads that were really in flight together.
final class ScriptedLatencyUploader: EventUploader {
    typealias Script = @Sendable (_ binaryName: String) -> (outcome: UploadOutcome?, latency: Duration)
    private let script: Script
    private let state = Mutex((inFlight: 0, peak: 0, count: 0))

    init(script: @escaping Script) { self.script = script }

    var peak: Int { state.withLock { $0.peak } }
    var count: Int { state.withLock { $0.count } }

    func upload(_ request: ImportRequest) async -> UploadOutcome {
        state.withLock { state in
            state.inFlight += 1
            state.count += 1
            state.peak = max(state.peak, state.inFlight)
        }
        let (outcome, latency) = script(request.binary.name)
        ScriptedRoundTripClock.latency?.value.withLock { $0 = latency }
        await Task.yield()
        state.withLock { $0.inFlight -= 1 }
        return outcome ?? RecordingUploader.acceptAll(request)
    }
}

/// Keeps every log message, to check what is logged and how often.
final class RecordingLogHandler: LogHandler, @unchecked Sendable {
    final class Messages: Sendable {
        let lines = Mutex<[(Logger.Level, String)]>([])
        var all: [(Logger.Level, String)] { lines.withLock { $0 } }
    }

    let messages: Messages
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    init(_ messages: Messages) { self.messages = messages }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        messages.lines.withLock { $0.append((event.level, event.message.description)) }
    }
}

@Suite("Adaptive concurrency")
struct AdaptiveConcurrencyTests {
    /// Forty events, a forwarder allowed up to `maximum` uploads in flight, and the scripted uploader.
    static func run(maximum: Int = 4, adaptive: Bool = true, events: Int = 40,
                    script: @escaping ScriptedLatencyUploader.Script) async throws
        -> (report: PassReport, limit: Int, uploader: ScriptedLatencyUploader, log: [(Logger.Level, String)]) {
        let world = try ForwarderWorld()
        world.policy.forwardsPerPassLimit = nil
        for index in 0..<events { try world.event(index, ageSeconds: Double(5000 - index * 10)) }
        let uploader = ScriptedLatencyUploader(script: script)
        let messages = RecordingLogHandler.Messages()
        let forwarder = EventForwarder(folder: LocalEventFolder(path: world.folder.file("ach")), uploader: uploader,
                                       store: try FileStateStore(path: world.statePath),
                                       clock: ScriptedRoundTripClock(world.clock.now()), policy: world.policy,
                                       uploadConcurrency: maximum, adaptiveConcurrency: adaptive,
                                       retryPolicy: RetryPolicy(circuitBreakerFailures: 1_000),
                                       logger: Logger(label: "test", factory: { _ in RecordingLogHandler(messages) }))
        let report = try await forwarder.runPass()
        return (report, await forwarder.currentConcurrencyLimit, uploader, messages.all)
    }

    static func concurrencyLines(_ log: [(Logger.Level, String)]) -> [String] {
        log.map(\.1).filter { $0.hasPrefix("upload concurrency") }
    }

    /// Events from index 30 on meet `outcome` (or the slower latency); the first 30 are steady.
    static func lastTen(_ outcome: @escaping @Sendable (String) -> UploadOutcome?,
                        latency: Duration = .milliseconds(100), lastTenLatency: Duration = .milliseconds(100))
        -> ScriptedLatencyUploader.Script {
        let lastTen = Set((30..<40).map { eventName($0) })
        return { name in lastTen.contains(name) ? (outcome(name), lastTenLatency) : (nil, latency) }
    }

    @Test("Adaptive: with steady round trips the limit rises from 1 to the cap, logged once per change")
    func risesWithSteadyRoundTrips() async throws {
        let run = try await Self.run(script: { _ in (nil, .milliseconds(80)) })
        #expect(run.report.forwarded == 40)
        #expect(run.limit == 4)
        #expect(run.report.concurrencyLimit == 4)
        #expect(run.report.summary.contains("concurrency_limit=4"))
        #expect(Self.concurrencyLines(run.log) == [
            "upload concurrency raised from 1 to 2: round trips steady",
            "upload concurrency raised from 2 to 3: round trips steady",
            "upload concurrency raised from 3 to 4: round trips steady",
        ])
        #expect(run.uploader.peak <= 4)
    }

    @Test("Adaptive: the limit never exceeds SFM_UPLOAD_CONCURRENCY", arguments: [1, 2, 3])
    func neverAboveCap(maximum: Int) async throws {
        let run = try await Self.run(maximum: maximum, script: { _ in (nil, .milliseconds(10)) })
        #expect(run.limit == maximum)
        #expect(run.uploader.peak <= maximum)
        #expect(run.report.forwarded == 40)
    }

    @Test("Adaptive: 429s, 503s and timeouts cut the limit", arguments: [
        UploadProblem(kind: .httpStatus(429), detail: "slow down"),
        UploadProblem(kind: .httpStatus(503), detail: "busy"),
        UploadProblem(kind: .timeout, detail: "no answer within 60 s"),
    ])
    func fallsOnBackPressure(problem: UploadProblem) async throws {
        let run = try await Self.run(script: Self.lastTen { _ in .failed(problem) })
        #expect(run.report.forwarded == 30)
        #expect(run.limit <= 2, "cut at least once from 4")
        #expect(Self.concurrencyLines(run.log).contains("upload concurrency lowered from 4 to 2: the server pushed back"))
    }

    @Test("Adaptive: round trips that rise well above their mean cut the limit")
    func fallsOnSlowerRoundTrips() async throws {
        let run = try await Self.run(script: Self.lastTen({ _ in nil }, lastTenLatency: .seconds(2)))
        #expect(run.report.forwarded == 40)
        #expect(run.limit <= 2)
        #expect(Self.concurrencyLines(run.log).contains { $0.hasPrefix("upload concurrency lowered from 4 to 2: round trips rose") })
    }

    @Test("Adaptive: errors that are not back-pressure (500, resets) do not cut the limit")
    func holdsOnOtherErrors() async throws {
        let run = try await Self.run(script: Self.lastTen { _ in .failed(UploadProblem(kind: .transport, detail: "reset")) })
        #expect(run.limit == 4)
    }

    @Test("Adaptive: turned off, the limit is SFM_UPLOAD_CONCURRENCY from the start and through 429s")
    func fixedWhenDisabled() async throws {
        let run = try await Self.run(adaptive: false, script: Self.lastTen { _ in
            .failed(UploadProblem(kind: .httpStatus(429), detail: "slow down"))
        })
        #expect(run.limit == 4)
        #expect(run.report.concurrencyLimit == 4)
        #expect(Self.concurrencyLines(run.log).isEmpty)
    }
}
