import ForwarderCore
import Foundation
import Synchronization

/// Simulated wall time: moves only when the simulation moves it.
///
/// `sleep(for:)` advances the clock at once, so a day of 60-second passes runs in seconds and a
/// run with one seed always sees the same times.
public final class SimClock: ForwarderClock {
    private let current: Mutex<FileTime>

    public init(start: FileTime) { current = Mutex(start) }

    public func now() -> FileTime { current.withLock { $0 } }

    public func advance(by duration: Duration) { current.withLock { $0 = $0 + duration } }

    public func set(_ time: FileTime) { current.withLock { $0 = max($0, time) } }

    public func sleep(for duration: Duration) async throws {
        try Task.checkCancellation()
        advance(by: duration)
    }
}

/// The forwarding state in memory, with a disk's durability rules.
///
/// Records are held back until `sync()`; `crash()` throws away what was not synced, as a power
/// cut does to a real journal, so scenarios can prove that a crash costs at most duplicates.
public final class SimStateStore: ForwardStateStore {
    private struct State {
        var durable: [EventDigest: ForwardRecord] = [:]
        var unsynced: [ForwardRecord] = []
        var lostToCrashes = 0
        var syncsSuppressed = false
    }

    private let state = Mutex(State())

    public init(records: [ForwardRecord] = []) {
        state.withLock { state in
            for record in records { state.durable[record.digest] = record }
        }
    }

    public func record(for digest: EventDigest) -> ForwardRecord? {
        state.withLock { state in
            state.unsynced.last { $0.digest == digest } ?? state.durable[digest]
        }
    }

    public func allRecords() -> [ForwardRecord] {
        state.withLock { state in
            var merged = state.durable
            for record in state.unsynced { merged[record.digest] = record }
            return merged.values.sorted { $0.digest < $1.digest }
        }
    }

    public func record(_ record: ForwardRecord) throws {
        state.withLock { $0.unsynced.append(record) }
    }

    public func sync() throws {
        state.withLock { state in
            guard !state.syncsSuppressed else { return }
            for record in state.unsynced { state.durable[record.digest] = record }
            state.unsynced.removeAll()
        }
    }

    public var count: Int {
        state.withLock { state in
            let durable = state.durable
            return durable.count + Set(state.unsynced.map(\.digest).filter { durable[$0] == nil }).count
        }
    }

    /// Makes syncs do nothing until the next `crash()`: the process is as good as dead, so
    /// nothing it records from now on reaches the disk.
    public func suppressSyncs() {
        state.withLock { $0.syncsSuppressed = true }
    }

    /// Loses every record since the last sync; returns how many were lost.
    @discardableResult
    public func crash() -> Int {
        state.withLock { state in
            state.syncsSuppressed = false
            let lost = state.unsynced.count
            state.lostToCrashes += lost
            state.unsynced.removeAll()
            return lost
        }
    }

    /// Records lost to crashes so far.
    public var lostToCrashes: Int { state.withLock { $0.lostToCrashes } }
}

/// One upload the simulated forwarder made, as the checkers see it.
public struct SimulatedUpload: Hashable, Sendable {
    public var time: FileTime
    public var binaryName: String
    public var binaryDigest: EventDigest
    public var reportName: String?
    public var outcome: UploadOutcome
    /// The mock's journal said it stored the upload (even if the client saw a failure).
    public var stored: Bool

    public init(time: FileTime, binaryName: String, binaryDigest: EventDigest, reportName: String?,
                outcome: UploadOutcome, stored: Bool) {
        self.time = time
        self.binaryName = binaryName
        self.binaryDigest = binaryDigest
        self.reportName = reportName
        self.outcome = outcome
        self.stored = stored
    }
}

/// Sends uploads straight to the mock's pure handler.
///
/// The request goes in as parts rather than as a multipart body: the wire encoding is proven by
/// the live world and the contract tests, and parsing it here would dominate a simulated day
/// in debug builds. Replies become outcomes the way `HTTPEventUploader` would see them over a socket: socket
/// faults are transport failures, an answer later than the request timeout is a timeout.
public final class SimUploader: EventUploader {
    public let mock: MockSFM
    private let clock: SimClock
    private let requestTimeout: Duration
    private let log = Mutex<[SimulatedUpload]>([])

    public init(mock: MockSFM, clock: SimClock, requestTimeout: Duration = .seconds(60)) {
        self.mock = mock
        self.clock = clock
        self.requestTimeout = requestTimeout
    }

    /// Every upload so far, in order.
    public var uploads: [SimulatedUpload] { log.withLock { $0 } }

    public func upload(_ request: ImportRequest) async -> UploadOutcome {
        let time = clock.now()
        let exchange = mock.handleImport(request, receivedAt: time)
        let outcome = Self.outcome(of: exchange.reply, binaryName: request.binary.name, requestTimeout: requestTimeout)
        log.withLock {
            $0.append(SimulatedUpload(time: time, binaryName: request.binary.name,
                                      binaryDigest: EventDigest(of: request.binary.contents),
                                      reportName: request.report?.name, outcome: outcome,
                                      stored: exchange.journalEntry.stored))
        }
        return outcome
    }

    /// What a client with `requestTimeout` makes of the mock's reply: a reply later than the
    /// timeout is a timeout, whatever it would have said.
    public static func outcome(of reply: MockReply, binaryName: String, requestTimeout: Duration) -> UploadOutcome {
        let lateness: Duration
        switch reply {
        case .respond(let response): lateness = response.duration
        case .socketFault(_, let delay): lateness = delay
        }
        if lateness >= requestTimeout {
            return .failed(UploadProblem(kind: .timeout, detail: "no answer within \(requestTimeout)"))
        }
        return reply.uploadOutcome(forBinary: binaryName)
    }
}
