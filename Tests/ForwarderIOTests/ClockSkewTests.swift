import ForwarderCore
import ForwarderIO
import Foundation
import Logging
import Synchronization
import Testing

/// Keeps every log message, for tests that check what was logged and how often.
final class CapturedLog: Sendable {
    private let messages = Mutex<[(level: Logger.Level, message: String, metadata: Logger.Metadata)]>([])

    var entries: [(level: Logger.Level, message: String, metadata: Logger.Metadata)] { messages.withLock { $0 } }

    var logger: Logger {
        Logger(label: "captured") { _ in CapturingHandler(log: self) }
    }

    fileprivate func append(_ level: Logger.Level, _ message: String, _ metadata: Logger.Metadata) {
        messages.withLock { $0.append((level, message, metadata)) }
    }
}

private struct CapturingHandler: LogHandler {
    let log: CapturedLog
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        log.append(level, message.description, self.metadata.merging(metadata ?? [:]) { $1 })
    }
}

@Suite("Clock skew on a real folder")
struct ClockSkewTests {
    @Test("Skew: a real file dated a day ahead is logged once and sent one pass later, not a day later")
    func futureDatedRealFile() async throws {
        let world = try ForwarderWorld()
        try world.event(1, ageSeconds: -86_400)
        let log = CapturedLog()
        let store = try FileStateStore(path: world.statePath)
        let forwarder = EventForwarder(folder: LocalEventFolder(path: world.folder.file("ach")), uploader: world.uploader,
                                       store: store, clock: world.clock, policy: world.policy, logger: log.logger)
        let first = try await forwarder.runPass()
        #expect(first.skips[.binaryNotQuiescent] == 1)
        world.clock.advance(by: world.policy.quiescencePeriod - .milliseconds(1))
        #expect(try await forwarder.runPass().forwarded == 0)
        world.clock.advance(by: .milliseconds(1))
        let settled = try await forwarder.runPass()
        #expect(settled.forwarded == 1)
        #expect(world.uploadedNames == [eventName(1)])
        let skewLines = log.entries.filter { $0.message.hasPrefix("clock skew") }
        // One line per file (binary and report), with the skew, however many passes saw them.
        #expect(skewLines.count == 2)
        #expect(skewLines.allSatisfy { ($0.metadata["clock.skew_seconds"]?.description).flatMap(Double.init).map { abs($0 - 86_400) < 1 } ?? false })
        #expect(skewLines.allSatisfy { $0.level == .warning })
        try store.close()
    }

    @Test("Skew: a wall clock stepped back leaves a file written just before the step waiting only its quiescence period")
    func stepBackAfterWrite() async throws {
        let world = try ForwarderWorld()
        try world.event(2, ageSeconds: 1)
        let store = try FileStateStore(path: world.statePath)
        let forwarder = EventForwarder(folder: LocalEventFolder(path: world.folder.file("ach")), uploader: world.uploader,
                                       store: store, clock: world.clock, policy: world.policy, logger: quietLogger)
        #expect(try await forwarder.runPass().skips[.binaryNotQuiescent] == 1)
        world.clock.stepWall(by: .seconds(-3600))
        world.clock.advance(by: .seconds(4))
        #expect(try await forwarder.runPass().forwarded == 1)
        try store.close()
    }

    @Test("Age source: seed-state with `name` skips a restored old event however fresh its time")
    func seedByName() async throws {
        let world = try ForwarderWorld()
        world.policy.eventAgeSource = .name
        try world.event(3, ageSeconds: 600)
        // eventName's times are in 2025 and the ManualClock starts at today's date, so with a
        // window of one day the name is too old while the file was written ten minutes ago.
        world.policy.maximumEventAge = .seconds(86_400)
        let store = try FileStateStore(path: world.statePath)
        let seeding = EventForwarder(folder: LocalEventFolder(path: world.folder.file("ach")), uploader: world.uploader,
                                     store: store, clock: world.clock, policy: world.policy, logger: quietLogger)
        let report = try await seeding.seedState()
        #expect(report.skippedTooOld == 1)
        #expect(report.seeded == 0)
        try store.close()
    }
}
