import ForwarderCore
import Foundation
import Synchronization

/// Simulated wall and monotonic time: both move only when the simulation moves them.
///
/// `sleep(for:)` advances both at once, so a day of 60-second passes runs in seconds and a run
/// with one seed always sees the same times. `stepWall(by:)` moves the wall clock alone, as time
/// sync or a user setting the clock does, while the monotonic clock keeps counting.
public final class SimClock: ForwarderClock {
    private struct Readings {
        var wall: FileTime
        var monotonic: MonotonicTime
        /// The sum of every wall step: wall time minus this is the true time elapsed since start.
        var wallSteps: Duration = .zero
    }

    private let current: Mutex<Readings>

    public init(start: FileTime) { current = Mutex(Readings(wall: start, monotonic: .origin)) }

    public func now() -> FileTime { current.withLock { $0.wall } }

    public func monotonicNow() -> MonotonicTime { current.withLock { $0.monotonic } }

    /// How far every step so far has moved the wall clock from true time.
    public var wallOffset: Duration { current.withLock { $0.wallSteps } }

    /// Time passes: both clocks move.
    public func advance(by duration: Duration) {
        current.withLock {
            $0.wall = $0.wall + duration
            $0.monotonic = $0.monotonic + duration
        }
    }

    /// Moves the wall clock alone, forward or back; the monotonic clock does not move.
    public func stepWall(by step: Duration) {
        current.withLock {
            $0.wall = $0.wall + step
            $0.wallSteps += step
        }
    }

    /// Lets time pass until the wall clock reads `time`; a time already past changes nothing.
    public func set(_ time: FileTime) {
        current.withLock {
            guard time > $0.wall else { return }
            $0.monotonic = $0.monotonic + (time - $0.wall)
            $0.wall = time
        }
    }

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
        /// The digest recorded last under each name, as the file store's name index keeps it.
        var durableDigestsByName: [String: EventDigest] = [:]
        var durableAttempts: [String: DeliveryAttempts] = [:]
        var durableConsecutiveFailures = 0
        var unsynced: [StateLine] = []
        var lostToCrashes = 0
        var syncsSuppressed = false
        /// While set, every write and sync fails with this detail, as a full disk would.
        var writeFault: String?
        /// The write or sync that failed and has not succeeded since.
        var pendingFailure: StateFileError?

        /// Throws as the file store does once a write failed: the change is kept, and waits
        /// for a sync that succeeds.
        mutating func failIfUnwritable() throws {
            if let writeFault { pendingFailure = StateFileError(path: "simulated state", kind: .unwritable, detail: writeFault) }
            if let pendingFailure { throw pendingFailure }
        }

        /// The attempts after the unsynced lines, as a reader of the state sees them.
        func attempts(forName fileName: String) -> DeliveryAttempts? {
            for line in unsynced.reversed() {
                switch line {
                case .accepted(let record) where record.fileName == fileName: return nil
                case .attempts(let attempts) where attempts.fileName == fileName: return attempts
                case .released(let name) where name == fileName: return nil
                default: continue
                }
            }
            return durableAttempts[fileName]
        }

        mutating func apply(_ line: StateLine) {
            switch line {
            case .accepted(let record):
                durable[record.digest] = record
                durableDigestsByName[record.fileName] = record.digest
                durableAttempts[record.fileName] = nil
            case .attempts(let attempts):
                durableAttempts[attempts.fileName] = attempts
            case .released(let fileName):
                durableAttempts[fileName] = nil
            case .consecutiveFailures(let count):
                durableConsecutiveFailures = count
            }
        }
    }

    private let state = Mutex(State())

    public init(records: [ForwardRecord] = []) {
        state.withLock { state in
            for record in records { state.apply(.accepted(record)) }
        }
    }

    public func record(for digest: EventDigest) -> ForwardRecord? {
        state.withLock { state in
            for case .accepted(let record) in state.unsynced.reversed() where record.digest == digest { return record }
            return state.durable[digest]
        }
    }

    public func record(forName fileName: String) -> ForwardRecord? {
        state.withLock { state in
            for case .accepted(let record) in state.unsynced.reversed() where record.fileName == fileName { return record }
            guard let digest = state.durableDigestsByName[fileName], let record = state.durable[digest],
                  record.fileName == fileName else { return nil }
            return record
        }
    }

    public func allRecords() -> [ForwardRecord] {
        state.withLock { state in
            var merged = state.durable
            for case .accepted(let record) in state.unsynced { merged[record.digest] = record }
            return merged.values.sorted { $0.digest < $1.digest }
        }
    }

    public func record(_ record: ForwardRecord) throws {
        try append(.accepted(record))
    }

    /// Keeps `line` until the next sync; throws when the simulated disk refuses writes.
    private func append(_ line: StateLine) throws {
        try state.withLock { state in
            state.unsynced.append(line)
            try state.failIfUnwritable()
        }
    }

    public func attempts(forName fileName: String) -> DeliveryAttempts? {
        state.withLock { $0.attempts(forName: fileName) }
    }

    public func allAttempts() -> [DeliveryAttempts] {
        state.withLock { state in
            // Only the attempts are replayed: copying the state would copy every record too.
            var attempts = state.durableAttempts
            for line in state.unsynced {
                switch line {
                case .accepted(let record): attempts[record.fileName] = nil
                case .attempts(let failed): attempts[failed.fileName] = failed
                case .released(let fileName): attempts[fileName] = nil
                case .consecutiveFailures: continue
                }
            }
            return attempts.values.sorted { $0.fileName < $1.fileName }
        }
    }

    public func recordAttempts(_ attempts: DeliveryAttempts) throws {
        try append(.attempts(attempts))
    }

    public func releaseAttempts(forName fileName: String) throws {
        try append(.released(fileName: fileName))
    }

    public var consecutiveFailures: Int {
        state.withLock { state in
            for case .consecutiveFailures(let count) in state.unsynced.reversed() { return count }
            return state.durableConsecutiveFailures
        }
    }

    public func recordConsecutiveFailures(_ count: Int) throws {
        try append(.consecutiveFailures(count))
    }

    public func sync() throws {
        try state.withLock { state in
            if let writeFault = state.writeFault {
                state.pendingFailure = StateFileError(path: "simulated state", kind: .unwritable, detail: writeFault)
                throw state.pendingFailure!
            }
            guard !state.syncsSuppressed else { return }
            state.pendingFailure = nil
            for line in state.unsynced { state.apply(line) }
            state.unsynced.removeAll()
        }
    }

    public var writeFailure: StateFileError? { state.withLock { $0.pendingFailure } }

    /// Makes every write and sync fail with `detail` (a full disk, a read-only one), or, with
    /// nil, lets them succeed again. What is recorded meanwhile is kept until a sync succeeds,
    /// and lost by a `crash()` before then.
    public func failWrites(_ detail: String?) {
        state.withLock { $0.writeFault = detail }
    }

    public var count: Int {
        state.withLock { state in
            let durable = state.durable
            var unsyncedNew: Set<EventDigest> = []
            for case .accepted(let record) in state.unsynced where durable[record.digest] == nil {
                unsyncedNew.insert(record.digest)
            }
            return durable.count + unsyncedNew.count
        }
    }

    /// Makes syncs do nothing until the next `crash()`: the process is as good as dead, so
    /// nothing it records from now on reaches the disk.
    public func suppressSyncs() {
        state.withLock { $0.syncsSuppressed = true }
    }

    /// Loses every line since the last sync; returns how many acceptances were lost.
    @discardableResult
    public func crash() -> Int {
        state.withLock { state in
            state.syncsSuppressed = false
            // A new process knows of no failed write until its own first write fails.
            state.pendingFailure = nil
            let lost = state.unsynced.count { if case .accepted = $0 { true } else { false } }
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
    /// The mock answered 429 or 503 with a `Retry-After` that runs until this time, as the
    /// checkers read it (`ServerPauseJudge`).
    public var serverAskedToWaitUntil: FileTime?

    public init(time: FileTime, binaryName: String, binaryDigest: EventDigest, reportName: String?,
                outcome: UploadOutcome, stored: Bool, serverAskedToWaitUntil: FileTime? = nil) {
        self.serverAskedToWaitUntil = serverAskedToWaitUntil
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
                                      stored: exchange.journalEntry.stored,
                                      serverAskedToWaitUntil: ServerPauseJudge.resumeTime(after: exchange.reply,
                                                                                          receivedAt: time)))
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
