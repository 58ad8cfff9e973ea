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
    private var records = CompactRecordTable()
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
        let snapshotExists = FileManager.default.fileExists(atPath: path)
        let journalExists = FileManager.default.fileExists(atPath: journalPath)
        let snapshotFormat = snapshotExists ? try Self.format(ofSnapshot: path) : nil
        let journalPaths = journalExists ? [journalPath] : []
        switch snapshotFormat {
        case .versionOne?:
            try importVersionOne(rewrite: !readOnly)
        case .binary?:
            let decoded = try StateFileReading.readBinarySnapshot(path, spare: try Self.extent(of: journalPaths))
            records = decoded.table
            for line in decoded.lines { apply(line) }
            loadSummary.snapshotRecords = records.count + decoded.lines.count
        case .text?:
            let extent = try Self.extent(of: [path] + journalPaths)
            records.reserveCapacity(records: extent.records, nameBytes: extent.nameBytes)
            loadSummary.snapshotRecords = try StateFileReading.parse(path, isJournal: false, accept: { self.apply($0) },
                                                                     add: { self.apply($0) }).records
        case nil:
            let extent = try Self.extent(of: journalPaths)
            records.reserveCapacity(records: extent.records, nameBytes: extent.nameBytes)
        }
        var validJournalBytes = 0
        if journalExists {
            let (loaded, validBytes) = try StateFileReading.parse(journalPath, isJournal: true, accept: { self.apply($0) },
                                                                  add: { self.apply($0) })
            loadSummary.journalRecords = loaded
            loadSummary.tornTailBytes = try StateFileReading.byteCount(of: journalPath) - validBytes
            journalRecordCount = loaded
            validJournalBytes = validBytes
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
            // A text snapshot (formats 2 to 4) is rewritten in format 5 at once, so that the
            // next start loads it fast instead of after the journal's next compaction.
            if snapshotFormat == .text { try compact() }
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
        lock.withLock { records.record(for: digest) }
    }

    /// Every record, copied out of the compact table: for tests and checkers, not for passes.
    public func allRecords() -> [ForwardRecord] {
        lock.withLock {
            var all: [ForwardRecord] = []
            all.reserveCapacity(records.count)
            records.forEach { all.append($0) }
            return all
        }
    }

    public func record(forName fileName: String) -> ForwardRecord? {
        lock.withLock { records.record(forName: fileName) }
    }

    /// How many records were accepted without their report, for `status`.
    public var withoutReportCount: Int { lock.withLock { records.withoutReportCount } }

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

    /// Applies accepted records' lines as loading reads them, without making their names strings
    /// unless attempts wait to be cleared.
    private func apply(_ batch: UnsafeBufferPointer<ForwardRecordFields>) {
        records.store(contentsOf: batch)
        guard !attemptsByName.isEmpty else { return }
        for fields in batch { attemptsByName[String(decoding: fields.fileNameUTF8, as: UTF8.self)] = nil }
    }

    /// Applies one line to the in-memory state, as recording and loading both do.
    private func apply(_ line: StateLine) {
        switch line {
        case .accepted(let record):
            records.store(record)
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
        try writeSnapshot()
        syncedJournalByteCount = 0
        unsyncedBytes = Array((StateRecordCodec.header + "\n").utf8)
        writtenByteCount = 0
        journalNeedsCut = true
        journalRecordCount = 0
        try syncJournal()
    }

    /// Writes every record, the attempts and the breaker's count into a new format-5 snapshot,
    /// streamed to the file rather than built in memory first.
    private func writeSnapshot() throws {
        var lines = attemptsByName.values.map(StateLine.attempts)
        if consecutiveFailureCount > 0 { lines.append(.consecutiveFailures(consecutiveFailureCount)) }
        try AtomicFileWriter.write(to: path) { emit in
            try BinaryStateSnapshot.encode(records, lines: lines) { try emit($0) }
        }
    }

    /// What a snapshot holds, told by its first bytes.
    private enum SnapshotFormat {
        case versionOne
        case binary
        /// Formats 2 to 4, or a file that is none of these (refused by its header line).
        case text
    }

    private static func format(ofSnapshot path: String) throws -> SnapshotFormat {
        let prefix = try StateFileReading.prefix(of: path, count: 4096)
        if BinaryStateSnapshot.hasHeader(prefix) { return .binary }
        let whitespace: Set<UInt8> = [0x20, 0x09, 0x0A, 0x0D, 0xEF, 0xBB, 0xBF]
        return prefix.first(where: { !whitespace.contains($0) }) == UInt8(ascii: "{") ? .versionOne : .text
    }

    /// Upper bounds on the records and name bytes of the text files at `paths`, so that the
    /// table can be reserved before loading and never grows (and briefly doubles) meanwhile.
    private static func extent(of paths: [String]) throws -> (records: Int, nameBytes: Int) {
        var extent = (records: 0, nameBytes: 0)
        for path in paths {
            let (lines, lastFieldBytes) = try StateFileReading.extent(of: path)
            extent.records += lines
            extent.nameBytes += lastFieldBytes
        }
        return extent
    }

    /// Converts the Python forwarder's `{"version": 1, "forwarded": {sha256: {...}}}` file
    /// (see `VersionOneState`), keeping the original as `<path>.v1-backup`.
    private func importVersionOne(rewrite: Bool) throws {
        let contents = try StateFileReading.read(path)
        do {
            try contents.withUnsafeBytes { raw in
                try VersionOneState.parse(raw.bindMemory(to: UInt8.self)) { records.store($0) }
            }
        } catch let failure as VersionOneState.Failure {
            switch failure {
            case .malformedJSON(let detail):
                throw StateFileError(path: path, kind: .unknownFormat, detail: "it starts like JSON but does not parse (\(detail))")
            case .rootNotObject:
                throw StateFileError(path: path, kind: .unknownFormat, detail: "its JSON root is not an object")
            case .unsupportedVersion(let version):
                throw StateFileError(path: path, kind: .unsupportedVersion(version ?? "none"),
                                     detail: "JSON state version \(version ?? "missing") is not 1")
            case .forwardedNotObject:
                throw StateFileError(path: path, kind: .unknownFormat, detail: "its \"forwarded\" value is not an object")
            case .invalidEntry(let key, let detail):
                throw StateFileError(path: path, kind: .invalidVersionOneEntry(key),
                                     detail: "entry \(key) is not a valid version-1 record: \(detail)")
            }
        }
        loadSummary.importedVersionOneRecords = records.count
        guard rewrite else { return }
        let backupPath = path + ".v1-backup"
        if !FileManager.default.fileExists(atPath: backupPath) {
            try AtomicFileWriter.write(contents, to: backupPath)
        }
        try writeSnapshot()
    }
}
