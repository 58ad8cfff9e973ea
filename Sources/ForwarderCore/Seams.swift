import Foundation

/// The wall time compared with file modification times, a monotonic time that never steps,
/// and the sleep between passes.
///
/// Production uses the system clock; the simulation moves a clock of its own so that a day of
/// passes runs in seconds and every run with one seed sees the same times, and it can step the
/// wall time (time sync, a hand-set clock) while the monotonic time goes on.
public protocol ForwarderClock: Sendable {
    /// The current wall time, in the same epoch as file modification times.
    func now() -> FileTime
    /// The current monotonic time: unaffected when the wall clock is stepped.
    func monotonicNow() -> MonotonicTime
    /// Waits for `duration` of this clock's time; throws `CancellationError` when cancelled.
    func sleep(for duration: Duration) async throws
    /// Runs `operation` and says how long it took: the round trips adaptive concurrency learns from.
    ///
    /// Measured on the monotonic time, so a wall-clock step is never read as a slow server; a
    /// simulation's monotonic time moves only when it is told to, so one seed gives one schedule.
    func measure<Result>(_ operation: () async -> Result) async -> (result: Result, elapsed: Duration)
}

extension ForwarderClock {
    public func measure<Result>(_ operation: () async -> Result) async -> (result: Result, elapsed: Duration) {
        let start = monotonicNow()
        let result = await operation()
        return (result, max(.zero, monotonicNow() - start))
    }
}

/// The watched folder: one listing per pass, and the bytes of the files that are uploaded.
public protocol EventFolder: Sendable {
    /// A human-readable location for messages (a path, or a simulation label).
    var location: String { get }
    /// Every entry directly in the folder (not recursive), each with one stat's worth of facts.
    func listEntries() throws -> FolderListing
    /// The whole content of the regular file `name` in the folder.
    func readContents(of name: String) throws -> Data
}

/// Why the folder could not be listed or a file could not be read.
public struct FolderError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        case folderMissing
        case notAFolder
        case fileMissing
        case notARegularFile
        /// The file resolves outside the watched folder (a link that leaves it).
        case outsideFolder
        case permissionDenied
        case other(code: Int32)
    }

    public var kind: Kind
    public var path: String
    public var detail: String

    public init(kind: Kind, path: String, detail: String) {
        self.kind = kind
        self.path = path
        self.detail = detail
    }

    public var description: String { "\(path): \(detail)" }
}

/// One import request: an event binary and, when one is ready, its report.
public struct ImportRequest: Hashable, Sendable {
    public struct File: Hashable, Sendable {
        public var name: String
        public var contents: Data

        public init(name: String, contents: Data) {
            self.name = name
            self.contents = contents
        }
    }

    public var binary: File
    public var report: File?
    /// The optional `?serial=` query value configured for this forwarder.
    public var serialHint: String?

    public init(binary: File, report: File?, serialHint: String? = nil) {
        self.binary = binary
        self.report = report
        self.serialHint = serialHint
    }
}

/// Sends one import request and classifies what came back.
public protocol EventUploader: Sendable {
    func upload(_ request: ImportRequest) async -> UploadOutcome
}

/// Durable record of which binaries the server has accepted, keyed by digest.
public protocol ForwardStateStore: Sendable {
    /// The record for `digest`, if the server accepted that content before.
    func record(for digest: EventDigest) -> ForwardRecord?
    /// The record accepted last under `fileName`, if any: the digest cache's knowledge of
    /// files hashed in earlier runs, looked up by name instead of copied at start.
    func record(forName fileName: String) -> ForwardRecord?
    /// Every record: for checkers and tests; a pass never copies the whole state.
    func allRecords() -> [ForwardRecord]
    /// Adds or replaces the record for its digest and forgets the failed attempts under its
    /// file name; durable only after `sync()`.
    func record(_ record: ForwardRecord) throws
    /// Adds several records at once, as `record(_:)` does each; durable only after `sync()`.
    ///
    /// Seeding records a whole archive, and a file-backed store can then write a batch with one
    /// call instead of one per record.
    func record(contentsOf records: [ForwardRecord]) throws
    /// What the state remembers of failed uploads under `fileName`, if anything.
    func attempts(forName fileName: String) -> DeliveryAttempts?
    /// Every event that is backing off or quarantined.
    func allAttempts() -> [DeliveryAttempts]
    /// Adds or replaces the attempts for their file name; durable only after `sync()`.
    func recordAttempts(_ attempts: DeliveryAttempts) throws
    /// Forgets the attempts for `fileName`, so it is tried at the next pass; durable only after `sync()`.
    func releaseAttempts(forName fileName: String) throws
    /// The circuit breaker's count of failed uploads in a row, as last recorded.
    ///
    /// Kept in the state so that a restart against a dead server sends one probe, not a whole
    /// window of uploads that will fail.
    var consecutiveFailures: Int { get }
    /// Replaces the circuit breaker's count; durable only after `sync()`.
    func recordConsecutiveFailures(_ count: Int) throws
    /// Makes every record so far durable; when a write failed before, writes what waits first.
    func sync() throws
    /// How many digests are recorded.
    var count: Int { get }
    /// The write or sync that failed and has not succeeded since, if any.
    ///
    /// A store whose disk refuses (full, read-only, I/O error) keeps every change in memory,
    /// answers queries with it, and writes it at the next `sync()` that succeeds: the uploads
    /// in flight when the disk filled are then not sent again.
    var writeFailure: StateFileError? { get }
}

extension ForwardStateStore {
    public var writeFailure: StateFileError? { nil }

    public func record(contentsOf records: [ForwardRecord]) throws {
        for record in records { try self.record(record) }
    }
}

/// What the state remembers of one accepted binary.
public struct ForwardRecord: Hashable, Sendable {
    public var digest: EventDigest
    public var fileName: String
    public var byteCount: Int64
    /// Whether a report went with the accepted upload; false means a late report is re-sent.
    public var hadReport: Bool
    public var forwardedAt: FileTime
    /// The binary's fingerprint when it was hashed; nil for records imported from version 1.
    public var fingerprint: FileFingerprint?

    public init(digest: EventDigest, fileName: String, byteCount: Int64, hadReport: Bool,
                forwardedAt: FileTime, fingerprint: FileFingerprint?) {
        self.digest = digest
        self.fileName = fileName
        self.byteCount = byteCount
        self.hadReport = hadReport
        self.forwardedAt = forwardedAt
        self.fingerprint = fingerprint
    }
}
