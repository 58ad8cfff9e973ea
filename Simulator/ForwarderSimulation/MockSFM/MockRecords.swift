import ForwarderCore
import Foundation

/// One request as the mock recorded it: what arrived, what was stored, how it was answered.
public struct JournalEntry: Hashable, Sendable, Codable {
    /// What became of the request.
    public enum Outcome: String, Hashable, Sendable, Codable {
        /// Answered with the contract's 200 reply (rows may still say `error`).
        case imported
        /// Refused with a 4xx before anything was stored.
        case rejected
        /// A fault plan rule decided the answer (see `fault` and `stored`).
        case faulted
        /// Refused over capacity with 429 or 503 before the handler saw it; nothing stored.
        case refused
    }

    /// Position in the journal since the last reset, from 1.
    public var sequence: Int
    /// Import request number since the fault plan was installed, from 1.
    public var requestNumber: Int
    public var receivedAtNanosecondsSince1970: Int64
    /// `receivedAtNanosecondsSince1970` in RFC 3339, for people reading the JSON.
    public var receivedAt: String
    /// Time since the fault plan was installed, which time windows are measured against.
    public var elapsedSeconds: Double
    public var serialHint: String?
    public var contentType: String?
    public var bodyByteCount: Int
    public var files: [JournalFile]
    public var outcome: Outcome
    /// The status answered, nil when a socket-level fault replaced the response.
    public var httpStatus: Int?
    /// The rows the reply carried, or would have carried had a fault not replaced it.
    public var rows: [MockReplyRow]
    /// True when this request changed the store (an insert or an update).
    public var stored: Bool
    /// The fault that decided the answer, if any.
    public var fault: FiredRule?
    /// Every rule that fired, including delays and slow bodies.
    public var firedRules: [FiredRule]
    public var delayMilliseconds: Double
    public var detail: String?
    /// With a capacity plan: how long the request waited for a slot, from `receivedAt` to the
    /// start of its service (absent without a plan, and for requests refused over capacity).
    public var queueMilliseconds: Double?
    /// With a capacity plan: how long its slot was busy with it.
    public var serviceMilliseconds: Double?

    /// The receive time as a `FileTime`.
    public var receivedAtTime: FileTime { FileTime(nanosecondsSince1970: receivedAtNanosecondsSince1970) }
}

/// One uploaded file as the journal keeps it: no contents, only name, size and digest.
public struct JournalFile: Hashable, Sendable, Codable {
    public var name: String
    public var byteCount: Int
    public var digest: String
    /// `binary` or `report`.
    public var role: String
}

/// Counters over everything the mock has handled since the last reset.
public struct MockStats: Hashable, Sendable, Codable {
    /// Import requests handled, whatever their outcome.
    public var requests = 0
    /// Events stored now.
    public var events = 0
    /// Binary rows answered `inserted: 1`.
    public var inserted = 0
    /// Binary rows answered `skipped: 1` (same key, same bytes, nothing new).
    public var skipped = 0
    /// Stored events changed by a later upload: a report attached, or new bytes for the key.
    public var updated = 0
    /// Binaries that arrived again for a key already stored (skipped plus updated-by-resend).
    public var duplicates = 0
    /// Binaries inserted under a new key although identical bytes are stored under another.
    public var sameContentOtherKey = 0
    /// Rows answered `status: error` (undecodable names, orphan reports, injected error rows).
    public var errorRows = 0
    /// Requests refused with 4xx.
    public var rejectedRequests = 0
    /// Requests whose answer a fault decided.
    public var faultedRequests = 0
    /// Faulted requests that were stored before the fault ("response lost after commit").
    public var storedThenFaulted = 0
    /// Fired rules by fault kind, including delays and slow bodies.
    public var faultsByKind: [String: Int] = [:]
    /// Fired rules by rule name.
    public var faultsByRule: [String: Int] = [:]
    /// The capacity model's counters and per-second series; absent without a capacity plan.
    /// Its refusals count in `requests` but in no other counter above.
    public var capacity: CapacityStats?

    public init() {}
}

/// An event as the mock stores it, keyed by unit serial and event time like the SFM does.
public struct StoredEvent: Hashable, Sendable, Codable {
    public var unitSerial: String
    public var serialNumber: Int
    public var secondsSince1985: Int
    /// Unit-local event time decoded from the name, e.g. `2025-12-09T11:00:56`.
    public var eventTime: String
    /// `waveform`, `histogram`, `manual` or `unrecognised`.
    public var kind: String
    public var binaryName: String
    public var binaryByteCount: Int
    public var binaryDigest: String
    public var reportName: String?
    /// SHA-256 of the stored report's bytes, which decides whether a re-sent report is new.
    public var reportDigest: String?
    public var report: BlastwareReport?
    public var serialHint: String?
    public var firstReceivedAt: String
    public var lastReceivedAt: String
    /// How many uploads carried this event's binary.
    public var uploadCount: Int
    /// How many of those changed it after the first.
    public var updateCount: Int

    public var hasReport: Bool { report != nil }
}

/// The key the SFM upserts on: unit serial and event time.
public struct EventKey: Hashable, Sendable, Comparable {
    public var serialNumber: Int
    public var secondsSince1985: Int

    public init(serialNumber: Int, secondsSince1985: Int) {
        self.serialNumber = serialNumber
        self.secondsSince1985 = secondsSince1985
    }

    public init(_ name: SimEventName) {
        self.init(serialNumber: name.serialNumber, secondsSince1985: name.secondsSince1985)
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.serialNumber, lhs.secondsSince1985) < (rhs.serialNumber, rhs.secondsSince1985)
    }
}

/// The most recent journal entries, in a fixed-size ring so that a long run does not grow
/// without bound; appending is O(1) and a page is found by arithmetic, not by scanning.
struct JournalRing {
    let capacity: Int
    private var storage: [JournalEntry] = []
    private var oldestIndex = 0
    /// Sequence number of the next entry.
    private(set) var nextSequence = 1

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    mutating func append(_ entry: JournalEntry) {
        if storage.count < capacity {
            storage.append(entry)
        } else {
            storage[oldestIndex] = entry
            oldestIndex = (oldestIndex + 1) % capacity
        }
        nextSequence += 1
    }

    /// Entries with a sequence number above `sequence`, oldest first, at most `limit`.
    func entries(after sequence: Int, limit: Int) -> [JournalEntry] {
        let oldestSequence = nextSequence - storage.count
        let skip = max(0, sequence - oldestSequence + 1)
        guard skip < storage.count, limit > 0 else { return [] }
        let take = min(limit, storage.count - skip)
        return (skip..<skip + take).map { storage[(oldestIndex + $0) % storage.count] }
    }
}
