import ForwarderCore
import Foundation

/// The durable forwarding state: a snapshot file plus an append-only journal beside it.
///
/// Recording appends one line to `<path>.journal` (O(1)); `sync()` makes the journal durable
/// and, once the journal has grown as large as the snapshot, compacts both into a new snapshot
/// written atomically. Loading replays the journal over the snapshot, tolerating a torn last
/// line. A path that holds the Python forwarder's version-1 JSON is converted in place, the
/// original kept as `<path>.v1-backup`. Anything else that cannot be read is an error: a damaged
/// state is never replaced by an empty one, because that would upload everything again.
///
/// When the disk refuses a write (full, read-only, failing), the change is kept in memory and
/// the write throws; every later change waits behind it, and the next `sync()` writes them all
/// or throws again. What the files hold stays valid throughout: a cut-off append is cut off
/// before the next, and a failed compaction leaves the old snapshot and journal as they were.
public final class FileStateStore: ForwardStateStore, @unchecked Sendable {
    public let path: String
    public var journalPath: String { path + ".journal" }

    private let lock = NSLock()
    private var records: [EventDigest: ForwardRecord] = [:]
    private var attemptsByName: [String: DeliveryAttempts] = [:]
    private var consecutiveFailureCount = 0
    /// Nil before the journal could be opened (a read-only disk at start) and after `close()`.
    private var journal: AppendOnlyFile?
    private var isClosed = false
    private var journalRecordCount = 0
    /// The journal's length at the last successful sync: whole lines, durable.
    private var syncedJournalByteCount = 0
    /// The lines encoded since the last successful sync; the first `writtenByteCount` bytes of
    /// them reached the OS. Kept until a sync succeeds, because after a failed `fsync` nobody
    /// knows what of them is on the disk.
    private var unsyncedBytes: [UInt8] = []
    private var writtenByteCount = 0
    /// The journal may hold bytes past `syncedJournalByteCount` that are torn or not known to be
    /// durable: cut them off before writing again.
    private var journalNeedsCut = false
    private var journalNeedsFsync = false
    /// The journal was created: its folder must be synced for the new name to survive a power cut.
    private var folderNeedsSync = false
    private var pendingWriteFailure: StateFileError?
    /// Unsynced bytes beyond which an append syncs at once, so what is kept for a retry stays small
    /// (seeding a large archive records a hundred thousand lines before its one sync).
    private static let unsyncedByteLimit = 1 << 20
    private let compactionMinimum: Int
    private let readOnly: Bool
    /// What loading found, for logs and `status`.
    public private(set) var loadSummary = LoadSummary()

    public struct LoadSummary: Hashable, Sendable {
        public var snapshotRecords = 0
        public var journalRecords = 0
        public var tornTailBytes = 0
        public var importedVersionOneRecords = 0
    }

    /// Opens (or creates) the state at `path`.
    ///
    /// - Parameters:
    ///   - compactionMinimum: the journal is not compacted before it holds this many records, so
    ///     small states do not rewrite their snapshot on every sync.
    ///   - readOnly: load without locking or changing anything, for `status` beside a running
    ///     forwarder; recording then throws.
    public init(path: String, compactionMinimum: Int = 10_000, readOnly: Bool = false) throws {
        self.path = path
        self.compactionMinimum = compactionMinimum
        self.readOnly = readOnly
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty {
            var isFolder: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder)
            guard exists, isFolder.boolValue else {
                throw StateFileError(path: path, kind: .unwritable,
                                     detail: exists ? "\(folder) is a file, not a folder" : "its folder \(folder) does not exist")
            }
        }
        if FileManager.default.fileExists(atPath: path) {
            let contents = try StateFileReading.read(path)
            let whitespace: Set<UInt8> = [0x20, 0x09, 0x0A, 0x0D, 0xEF, 0xBB, 0xBF]
            if contents.first(where: { !whitespace.contains($0) }) == UInt8(ascii: "{") {
                try importVersionOne(contents, rewrite: !readOnly)
            } else {
                records.reserveCapacity(StateFileReading.lineCount(of: contents))
                let (loaded, _) = try parse(contents, path: path, isJournal: false)
                loadSummary.snapshotRecords = loaded
            }
        }
        let journalExists = FileManager.default.fileExists(atPath: journalPath)
        var validJournalBytes = 0
        if journalExists {
            let contents = try StateFileReading.read(journalPath)
            if contents.isEmpty {
                validJournalBytes = 0
            } else {
                records.reserveCapacity(records.count + StateFileReading.lineCount(of: contents))
                let (loaded, validBytes) = try parse(contents, path: journalPath, isJournal: true)
                loadSummary.journalRecords = loaded
                loadSummary.tornTailBytes = contents.count - validBytes
                journalRecordCount = loaded
                validJournalBytes = validBytes
            }
        }
        if readOnly { return }
        syncedJournalByteCount = validJournalBytes
        if validJournalBytes == 0 {
            unsyncedBytes = Array((StateRecordCodec.header + "\n").utf8)
            journalNeedsCut = true
            folderNeedsSync = true
        } else if loadSummary.tornTailBytes > 0 {
            journalNeedsCut = true
        }
        do {
            try syncJournal()
        } catch let error as StateFileError where error.isDiskCondition {
            // A full or read-only disk at start: the state is loaded, and passes wait for the disk.
            pendingWriteFailure = error
        }
    }

    public var count: Int { lock.withLock { records.count } }

    /// Syncs and releases the journal and its lock; the store refuses records afterwards.
    public func close() throws {
        try sync()
        lock.withLock {
            journal = nil
            isClosed = true
        }
    }

    public var writeFailure: StateFileError? { lock.withLock { pendingWriteFailure } }

    public func record(for digest: EventDigest) -> ForwardRecord? {
        lock.withLock { records[digest] }
    }

    public func allRecords() -> [ForwardRecord] {
        lock.withLock { Array(records.values) }
    }

    public func record(_ record: ForwardRecord) throws {
        try append([.accepted(record)])
    }

    public func record(contentsOf records: [ForwardRecord]) throws {
        try append(records.map(StateLine.accepted))
    }

    public func attempts(forName fileName: String) -> DeliveryAttempts? {
        lock.withLock { attemptsByName[fileName] }
    }

    public func allAttempts() -> [DeliveryAttempts] {
        lock.withLock { Array(attemptsByName.values) }
    }

    public func recordAttempts(_ attempts: DeliveryAttempts) throws {
        try append([.attempts(attempts)])
    }

    public func releaseAttempts(forName fileName: String) throws {
        try append([.released(fileName: fileName)])
    }

    public var consecutiveFailures: Int { lock.withLock { consecutiveFailureCount } }

    public func recordConsecutiveFailures(_ count: Int) throws {
        try append([.consecutiveFailures(count)])
    }

    /// Appends lines to the journal with one write and applies them in memory.
    private func append(_ lines: [StateLine]) throws {
        guard !readOnly else {
            throw StateFileError(path: path, kind: .unwritable, detail: "opened read-only")
        }
        guard !lines.isEmpty else { return }
        if let name = lines.lazy.compactMap(\.fileName).first(where: { !StateRecordCodec.isStorableFileName($0) }) {
            throw StateFileError(path: path, kind: .unwritable,
                                 detail: "the file name \(name.debugDescription) cannot be stored in a state line")
        }
        var text = ""
        for line in lines { text += StateRecordCodec.encode(line) }
        try lock.withLock {
            guard !isClosed else {
                throw StateFileError(path: path, kind: .unwritable, detail: "the state was closed")
            }
            for line in lines { apply(line) }
            journalRecordCount += lines.count
            unsyncedBytes.append(contentsOf: text.utf8)
            if let pendingWriteFailure { throw pendingWriteFailure }
            do {
                try writeJournal()
                if unsyncedBytes.count >= Self.unsyncedByteLimit { try syncJournal() }
            } catch let error as StateFileError {
                pendingWriteFailure = error
                throw error
            }
        }
    }

    /// Writes what waits to the journal (opening it first when it could not be opened before).
    ///
    /// One `write` may end part-way on a full disk; the cut-off line is cut away before the next
    /// attempt, which writes every unsynced line again. The caller holds the lock.
    private func writeJournal() throws {
        let journal = try self.journal ?? AppendOnlyFile(path: journalPath, exclusive: true)
        self.journal = journal
        if journalNeedsCut {
            try journal.truncate(to: syncedJournalByteCount)
            journalNeedsCut = false
            journalNeedsFsync = true
            writtenByteCount = 0
        }
        guard writtenByteCount < unsyncedBytes.count else { return }
        journalNeedsFsync = true
        do {
            try journal.append(unsyncedBytes[writtenByteCount...])
        } catch {
            journalNeedsCut = true
            throw error
        }
        writtenByteCount = unsyncedBytes.count
    }

    /// Writes what waits and makes the journal durable; the caller holds the lock.
    private func syncJournal() throws {
        try writeJournal()
        if journalNeedsFsync, let journal {
            do {
                try journal.synchronize()
            } catch {
                // What the failed fsync left on the disk is unknown: write it all again next time.
                journalNeedsCut = true
                throw error
            }
            journalNeedsFsync = false
        }
        if folderNeedsSync {
            try AtomicFileWriter.synchronizeFolder(containing: journalPath)
            folderNeedsSync = false
        }
        syncedJournalByteCount += unsyncedBytes.count
        unsyncedBytes.removeAll(keepingCapacity: unsyncedBytes.count <= Self.unsyncedByteLimit)
        writtenByteCount = 0
    }

    /// Applies one line to the in-memory state, as recording and loading both do.
    private func apply(_ line: StateLine) {
        switch line {
        case .accepted(let record):
            records[record.digest] = record
            if !attemptsByName.isEmpty { attemptsByName[record.fileName] = nil }
        case .attempts(let attempts):
            attemptsByName[attempts.fileName] = attempts
        case .released(let fileName):
            attemptsByName[fileName] = nil
        case .consecutiveFailures(let count):
            consecutiveFailureCount = count
        }
    }

    public func sync() throws {
        guard !readOnly else { return }
        try lock.withLock {
            guard !isClosed else { return }
            do {
                try syncJournal()
                // Compact once the journal holds as many records as the snapshot: amortized O(1).
                if journalRecordCount >= max(compactionMinimum, records.count / 2) {
                    try compact()
                }
                pendingWriteFailure = nil
            } catch let error as StateFileError {
                pendingWriteFailure = error
                throw error
            }
        }
    }

    /// Writes every record into a new snapshot and empties the journal.
    ///
    /// A crash after the rename but before the journal is emptied only replays records that the
    /// snapshot already holds, so the order is safe. A snapshot that cannot be written leaves
    /// the old snapshot and the journal as they were.
    private func compact() throws {
        var text = StateRecordCodec.header + "\n"
        text.reserveCapacity(records.count * 130)
        for record in records.values {
            text += StateRecordCodec.encode(record)
        }
        for attempts in attemptsByName.values {
            text += StateRecordCodec.encode(attempts)
        }
        if consecutiveFailureCount > 0 {
            text += StateRecordCodec.encode(.consecutiveFailures(consecutiveFailureCount))
        }
        try AtomicFileWriter.write(Data(text.utf8), to: path)
        syncedJournalByteCount = 0
        unsyncedBytes = Array((StateRecordCodec.header + "\n").utf8)
        writtenByteCount = 0
        journalNeedsCut = true
        journalRecordCount = 0
        try syncJournal()
    }

    /// Parses a snapshot or journal into `records`; returns how many lines it held and how many
    /// leading bytes are valid.
    ///
    /// Only a journal may end in a torn line (no newline) or a run of NUL bytes, which is what a
    /// crash or power cut mid-append leaves; anywhere else a bad line is corruption.
    private func parse(_ contents: Data, path: String, isJournal: Bool) throws -> (records: Int, validBytes: Int) {
        try StateFileReading.parse(contents, path: path, isJournal: isJournal) { self.apply($0) }
    }

    /// Converts the Python forwarder's `{"version": 1, "forwarded": {sha256: {...}}}` file.
    ///
    /// Entries without `had_report` count as sent with their report, as upstream decided, so an
    /// import never re-sends anything.
    private func importVersionOne(_ contents: Data, rewrite: Bool) throws {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: contents)
        } catch {
            throw StateFileError(path: path, kind: .unknownFormat, detail: "it starts like JSON but does not parse (\(error.localizedDescription))")
        }
        guard let root = object as? [String: Any] else {
            throw StateFileError(path: path, kind: .unknownFormat, detail: "its JSON root is not an object")
        }
        guard let version = root["version"] as? Int, version == 1 else {
            throw StateFileError(path: path, kind: .unsupportedVersion("\(root["version"] ?? "none")"),
                                 detail: "JSON state version \(root["version"] ?? "missing") is not 1")
        }
        guard let forwarded = (root["forwarded"] ?? [String: Any]()) as? [String: Any] else {
            throw StateFileError(path: path, kind: .unknownFormat, detail: "its \"forwarded\" value is not an object")
        }
        for (key, value) in forwarded {
            guard let digest = EventDigest(hex: key), let entry = value as? [String: Any],
                  let fileName = entry["filename"] as? String, StateRecordCodec.isStorableFileName(fileName),
                  ((entry["size"] as? NSNumber)?.int64Value ?? 0) >= 0 else {
                throw StateFileError(path: path, kind: .invalidVersionOneEntry(key),
                                     detail: "entry \(key) is not a valid version-1 record")
            }
            let byteCount = (entry["size"] as? NSNumber)?.int64Value ?? 0
            let hadReport = (entry["had_report"] as? Bool) ?? true
            let forwardedAt = (entry["forwarded_at"] as? String).flatMap(Self.parseTimestamp) ?? FileTime(nanosecondsSince1970: 0)
            records[digest] = ForwardRecord(digest: digest, fileName: fileName, byteCount: byteCount,
                                            hadReport: hadReport, forwardedAt: forwardedAt, fingerprint: nil)
        }
        loadSummary.importedVersionOneRecords = records.count
        guard rewrite else { return }
        let backupPath = path + ".v1-backup"
        if !FileManager.default.fileExists(atPath: backupPath) {
            try AtomicFileWriter.write(contents, to: backupPath)
        }
        var text = StateRecordCodec.header + "\n"
        for record in records.values { text += StateRecordCodec.encode(record) }
        try AtomicFileWriter.write(Data(text.utf8), to: path)
    }

    /// Reads the reference's `2026-05-08T10:11:12.345678Z` timestamps.
    static func parseTimestamp(_ text: String) -> FileTime? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return FileTime(date) }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text).map(FileTime.init)
    }
}
