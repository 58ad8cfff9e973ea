import ForwarderCore
@testable import ForwarderIO
import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The bad-input matrix of issue #7: damaged state, bad settings, files that change mid-pass and
/// odd names, each met with a clear error or a counted skip, and nothing lost.
@Suite("Bad input")
struct BadInputMatrixTests {}

// MARK: - Vocabulary

/// A record for `index`, with a fingerprint, as the forwarder writes them.
private func sampleRecord(_ index: Int, hadReport: Bool = true) -> ForwardRecord {
    ForwardRecord(digest: EventDigest(of: eventBytes(index, byteCount: 64)), fileName: eventName(index), byteCount: 64,
                  hadReport: hadReport, forwardedAt: FileTime(nanosecondsSince1970: Int64(index) * 1_000_000_000),
                  fingerprint: FileFingerprint(byteCount: 64, modificationTime: FileTime(nanosecondsSince1970: Int64(index)),
                                               identity: FileIdentity(volume: 1, file: UInt64(index))))
}

/// The state header line and encoded records `indices`, as bytes.
private func stateText(header: String = StateRecordCodec.header + "\n", _ indices: Range<Int>) -> [UInt8] {
    Array((header + indices.map { StateRecordCodec.encode(sampleRecord($0)) }.joined()).utf8)
}

/// One encoded record cut after `byteCount` bytes, as a crash mid-append leaves it.
private func tornRecord(_ index: Int, after byteCount: Int) -> [UInt8] {
    Array(StateRecordCodec.encode(sampleRecord(index)).utf8.prefix(byteCount))
}

/// A version-1 JSON state with one entry whose fields are `entryJSON`.
private func versionOne(key: String = EventDigest(of: eventBytes(1, byteCount: 64)).hex, _ entryJSON: String) -> [UInt8] {
    Array(#"{"version": 1, "forwarded": {"\#(key)": {\#(entryJSON)}}}"#.utf8)
}

/// Every entry in a folder with its bytes (nil for a sub-folder), to prove a refusal changed nothing.
private func folderContents(_ path: String) throws -> [String: Data?] {
    var contents: [String: Data?] = [:]
    for name in try FileManager.default.contentsOfDirectory(atPath: path) {
        let filePath = (path as NSString).appendingPathComponent(name)
        var isFolder: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: filePath, isDirectory: &isFolder)
        contents[name] = isFolder.boolValue ? nil : try Data(contentsOf: URL(fileURLWithPath: filePath))
    }
    return contents
}

/// Creates a file, folder or named pipe whose name is `name`'s raw bytes (they need not be
/// UTF-8, which `FileManager` cannot express), modified `ageSeconds` before `now`.
private func createEntry(_ name: [UInt8], in folder: String, kind: FolderEntry.Kind = .regularFile,
                         contents: Data = Data(), ageSeconds: Double, now: FileTime) throws {
    let path = (Array(folder.utf8) + [UInt8(ascii: "/")] + name + [0]).map { CChar(bitPattern: $0) }
    switch kind {
    case .directory:
        guard mkdir(path, 0o755) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno)!) }
    case .other:
        guard mkfifo(path, 0o644) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno)!) }
    case .regularFile:
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard descriptor >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno)!) }
        defer { close(descriptor) }
        let written = contents.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == contents.count else { throw POSIXError(.EIO) }
    }
    let modified = now - .nanoseconds(Int64(ageSeconds * 1e9))
    let time = timespec(tv_sec: Int(modified.nanosecondsSince1970 / 1_000_000_000),
                        tv_nsec: Int(modified.nanosecondsSince1970 % 1_000_000_000))
    guard utimensat(AT_FDCWD, path, [time, time], AT_SYMLINK_NOFOLLOW) == 0 else {
        throw POSIXError(POSIXErrorCode(rawValue: errno)!)
    }
}

/// Appends `bytes` to the file at `path`, as Blastware does while it is still writing.
private func append(_ bytes: Data, to path: String) throws {
    let handle = try #require(FileHandle(forWritingAtPath: path))
    handle.seekToEndOfFile()
    handle.write(bytes)
    try handle.close()
}

/// Nothing is recorded that the server did not accept: every record's digest is that of bytes
/// in an accepted request, and a record that says its report went names a request that had one.
private func expectNothingRecordedUnaccepted(_ store: any ForwardStateStore, accepted: [ImportRequest],
                                             sourceLocation: SourceLocation = #_sourceLocation) {
    for record in store.allRecords() {
        let requests = accepted.filter { EventDigest(of: $0.binary.contents) == record.digest }
        #expect(!requests.isEmpty, "\(record.fileName) is recorded but its bytes were never accepted",
                sourceLocation: sourceLocation)
        if record.hadReport {
            #expect(requests.contains { $0.report != nil }, "\(record.fileName) is recorded with a report that never went",
                    sourceLocation: sourceLocation)
        }
    }
}

/// A local folder that lets a test change files at the worst moments: right after the listing,
/// or just before one file is read; and that can refuse to read chosen names.
final class MidPassFolder: EventFolder, @unchecked Sendable {
    let inner: LocalEventFolder
    private let lock = NSLock()
    private var afterListing: (() throws -> Void)?
    private var beforeReading: [String: () throws -> Void] = [:]
    private var deniedNames: Set<String> = []

    init(path: String) { inner = LocalEventFolder(path: path) }

    var location: String { inner.location }

    /// Runs `change` once, after the next listing.
    func afterNextListing(_ change: @escaping () throws -> Void) { lock.withLock { afterListing = change } }

    /// Runs `change` once, just before `name` is next read.
    func beforeNextRead(of name: String, _ change: @escaping () throws -> Void) {
        lock.withLock { beforeReading[name] = change }
    }

    /// Reads of `names` fail as a file this user may not read would (root reads any mode bits).
    func deny(_ names: Set<String>) { lock.withLock { deniedNames = names } }

    func listEntries() throws -> [FolderEntry] {
        let entries = try inner.listEntries()
        let change = lock.withLock { () -> (() throws -> Void)? in
            defer { afterListing = nil }
            return afterListing
        }
        try change?()
        return entries
    }

    func readContents(of name: String) throws -> Data {
        let (change, denied) = lock.withLock { (beforeReading.removeValue(forKey: name), deniedNames.contains(name)) }
        try change?()
        if denied {
            throw FolderError(kind: .permissionDenied, path: inner.path + "/" + name, detail: "Permission denied")
        }
        return try inner.readContents(of: name)
    }
}

extension ForwarderWorld {
    /// A forwarder over `folder` with a state freshly opened from disk.
    func forwarder(over folder: any EventFolder, compactionMinimum: Int = 10_000) throws -> (EventForwarder, FileStateStore) {
        let store = try FileStateStore(path: statePath, compactionMinimum: compactionMinimum)
        return (EventForwarder(folder: folder, uploader: uploader, store: store, clock: clock, policy: policy,
                               logger: quietLogger), store)
    }

    var achPath: String { folder.file("ach") }

    func achFile(_ name: String) -> String { folder.file("ach/" + name) }
}

// MARK: - State

/// A state on disk that must be refused, with the error it must give.
struct RefusedState: Sendable, CustomTestStringConvertible {
    var label: String
    var snapshot: [UInt8]?
    var journal: [UInt8]?
    /// The file the message must name: the snapshot, or the journal beside it.
    var damagedJournal = false
    var kind: StateFileError.Kind
    /// A phrase the message must contain, besides the file.
    var phrase: String

    var testDescription: String { label }

    static let all: [RefusedState] = [
        RefusedState(label: "snapshot with a damaged line in the middle",
                     snapshot: stateText(0..<1) + Array("garbage\n".utf8) + stateText(header: "", 2..<3),
                     kind: .corruptLine(3), phrase: "line 3 is not a valid record"),
        RefusedState(label: "journal with a damaged line in the middle",
                     journal: stateText(0..<1) + Array("0123\tnot\ta\trecord\n".utf8) + stateText(header: "", 2..<3),
                     damagedJournal: true, kind: .corruptLine(3), phrase: "line 3 is not a valid record"),
        RefusedState(label: "snapshot cut short", snapshot: stateText(0..<1) + tornRecord(1, after: 30),
                     kind: .corruptLine(3), phrase: "the last line is cut short"),
        RefusedState(label: "snapshot of a future version", snapshot: stateText(header: "BLASTWARE-FORWARDER-STATE 9\n", 0..<2),
                     kind: .unsupportedVersion("9"), phrase: "version 9 of the state format"),
        RefusedState(label: "journal of a future version", snapshot: stateText(0..<1),
                     journal: stateText(header: "BLASTWARE-FORWARDER-STATE 9\n", 1..<2), damagedJournal: true,
                     kind: .unsupportedVersion("9"), phrase: "version 9 of the state format"),
        RefusedState(label: "snapshot with Windows line ends", snapshot: Array((StateRecordCodec.header + "\r\n").utf8),
                     kind: .unknownFormat, phrase: "\"\(StateRecordCodec.header)\\r\\n\""),
        RefusedState(label: "garbage bytes", snapshot: [0x00, 0x1B, 0x5B, 0x32, 0x4A, 0xFF, 0xFE, 0x0A, 0x41, 0x0A],
                     kind: .unknownFormat, phrase: #"its first line is "\0\u{1B}[2J"#),
        RefusedState(label: "empty snapshot", snapshot: [], kind: .unknownFormat, phrase: #"its first line is "", not"#),
        RefusedState(label: "zero-filled snapshot", snapshot: [UInt8](repeating: 0, count: 4096),
                     kind: .unknownFormat, phrase: #"its first line is "\0\0"#),
        RefusedState(label: "JSON that does not parse", snapshot: Array(#"{"version": 1, "forwarded": {"#.utf8),
                     kind: .unknownFormat, phrase: "starts like JSON but does not parse"),
        RefusedState(label: "JSON of another version", snapshot: Array(#"{"version": 2, "forwarded": {}}"#.utf8),
                     kind: .unsupportedVersion("2"), phrase: "JSON state version 2 is not 1"),
        RefusedState(label: "version 1 whose entries are not an object", snapshot: Array(#"{"version": 1, "forwarded": []}"#.utf8),
                     kind: .unknownFormat, phrase: #""forwarded" value is not an object"#),
        RefusedState(label: "version 1 with a tab in a name", snapshot: versionOne(#""filename": "N844L20G.630H\tx", "size": 1"#),
                     kind: .invalidVersionOneEntry(EventDigest(of: eventBytes(1, byteCount: 64)).hex), phrase: "not a valid version-1 record"),
        RefusedState(label: "version 1 with a line break in a name", snapshot: versionOne(#""filename": "N844L20G\r\n.630H", "size": 1"#),
                     kind: .invalidVersionOneEntry(EventDigest(of: eventBytes(1, byteCount: 64)).hex), phrase: "not a valid version-1 record"),
        RefusedState(label: "version 1 with an empty name", snapshot: versionOne(#""filename": "", "size": 1"#),
                     kind: .invalidVersionOneEntry(EventDigest(of: eventBytes(1, byteCount: 64)).hex), phrase: "not a valid version-1 record"),
        RefusedState(label: "version 1 with a negative size", snapshot: versionOne(#""filename": "N844L20G.630H", "size": -5"#),
                     kind: .invalidVersionOneEntry(EventDigest(of: eventBytes(1, byteCount: 64)).hex), phrase: "not a valid version-1 record"),
        RefusedState(label: "version 1 with a size beyond 64 bits", snapshot: versionOne(#""filename": "N844L20G.630H", "size": 1.5e30"#),
                     kind: .invalidVersionOneEntry(EventDigest(of: eventBytes(1, byteCount: 64)).hex), phrase: "not a valid version-1 record"),
        RefusedState(label: "version 1 with a key that is not a digest", snapshot: versionOne(key: "not-a-digest", #""filename": "a""#),
                     kind: .invalidVersionOneEntry("not-a-digest"), phrase: "entry not-a-digest"),
    ]
}

/// A damaged state that loading tolerates, with what it must keep.
struct ToleratedState: Sendable, CustomTestStringConvertible {
    var label: String
    var snapshot: [UInt8]?
    var journal: [UInt8]?
    /// The records that must load (indices of `sampleRecord`).
    var records: Range<Int>
    var droppedBytes: Int

    var testDescription: String { label }

    static let all: [ToleratedState] = [
        ToleratedState(label: "journal with a torn last line", snapshot: stateText(0..<2),
                       journal: stateText(2..<4) + tornRecord(4, after: 50), records: 0..<4, droppedBytes: 50),
        ToleratedState(label: "journal with a zero-filled tail", journal: stateText(0..<2) + [UInt8](repeating: 0, count: 4096),
                       records: 0..<2, droppedBytes: 4096),
        ToleratedState(label: "journal torn inside its header", snapshot: stateText(0..<3),
                       journal: Array("BLASTWARE-FORW".utf8), records: 0..<3, droppedBytes: 14),
        ToleratedState(label: "empty journal beside a snapshot", snapshot: stateText(0..<3), journal: [], records: 0..<3,
                       droppedBytes: 0),
        ToleratedState(label: "snapshot of the header only", snapshot: stateText(0..<0), records: 0..<0, droppedBytes: 0),
        ToleratedState(label: "version 1 without entries", snapshot: Array(#"{"version": 1}"#.utf8), records: 0..<0,
                       droppedBytes: 0),
    ]
}

/// A state path that cannot be used even by root, which ignores permission bits.
enum UnusableStatePath: String, CaseIterable, Sendable {
    case parentIsAFile
    case pathIsAFolder
    case journalIsAFolder

    /// Prepares the folder; returns the state path and the path the message must name.
    func prepare(in folder: TemporaryFolder) throws -> (statePath: String, named: String) {
        switch self {
        case .parentIsAFile:
            try Data("not a folder".utf8).write(to: URL(fileURLWithPath: folder.file("settings")))
            return (folder.file("settings/state"), folder.file("settings/state"))
        case .pathIsAFolder:
            try FileManager.default.createDirectory(atPath: folder.file("state"), withIntermediateDirectories: false)
            return (folder.file("state"), folder.file("state"))
        case .journalIsAFolder:
            try Data(stateText(0..<1)).write(to: URL(fileURLWithPath: folder.file("state")))
            try FileManager.default.createDirectory(atPath: folder.file("state.journal"), withIntermediateDirectories: false)
            return (folder.file("state"), folder.file("state.journal"))
        }
    }

    var kind: StateFileError.Kind { self == .parentIsAFile ? .unwritable : .unreadable }

    var phrase: String {
        switch self {
        case .parentIsAFile: return "is a file, not a folder"
        case .pathIsAFolder, .journalIsAFolder: return "it is a folder, not a file"
        }
    }
}

/// A store that stops accepting records after `allowed` of them, as a full disk would.
final class FullDiskStore: ForwardStateStore, @unchecked Sendable {
    let inner: FileStateStore
    private let remaining: Mutex<Int>

    init(_ inner: FileStateStore, allowed: Int) {
        self.inner = inner
        remaining = Mutex(allowed)
    }

    func record(for digest: EventDigest) -> ForwardRecord? { inner.record(for: digest) }
    func allRecords() -> [ForwardRecord] { inner.allRecords() }
    var count: Int { inner.count }
    func sync() throws { try inner.sync() }
    func attempts(forName fileName: String) -> DeliveryAttempts? { inner.attempts(forName: fileName) }
    func allAttempts() -> [DeliveryAttempts] { inner.allAttempts() }
    func recordAttempts(_ attempts: DeliveryAttempts) throws { try inner.recordAttempts(attempts) }
    func releaseAttempts(forName fileName: String) throws { try inner.releaseAttempts(forName: fileName) }
    var consecutiveFailures: Int { inner.consecutiveFailures }
    func recordConsecutiveFailures(_ count: Int) throws { try inner.recordConsecutiveFailures(count) }

    func record(_ record: ForwardRecord) throws {
        let allowed = remaining.withLock { remaining in
            defer { remaining -= 1 }
            return remaining > 0
        }
        guard allowed else {
            throw StateFileError(path: inner.path, kind: .unwritable, detail: "write failed: No space left on device")
        }
        try inner.record(record)
    }
}

extension BadInputMatrixTests {
    @Suite("State")
    struct State {
        @Test("State: a damaged state is refused with the file and the fault named, and left byte for byte",
              arguments: RefusedState.all)
        func refused(_ damage: RefusedState) throws {
            let folder = try TemporaryFolder("bad-state")
            let path = folder.file("state")
            if let snapshot = damage.snapshot { try Data(snapshot).write(to: URL(fileURLWithPath: path)) }
            if let journal = damage.journal { try Data(journal).write(to: URL(fileURLWithPath: path + ".journal")) }
            let before = try folderContents(folder.path)

            let error = try #require(throws: StateFileError.self) { try FileStateStore(path: path) }
            let named = damage.damagedJournal ? path + ".journal" : path
            #expect(error.kind == damage.kind)
            #expect(error.path == named)
            #expect(error.description.hasPrefix("state file \(named): "))
            #expect(error.description.contains(damage.phrase), "\(error)")
            #expect(!error.description.unicodeScalars.contains { $0.value < 0x20 }, "control bytes are shown escaped")
            #expect(try folderContents(folder.path) == before, "nothing written, renamed or created")
            #expect(throws: StateFileError.self, "status refuses it too") { try FileStateStore(path: path, readOnly: true) }
        }

        @Test("State: what a crash leaves is tolerated; every whole record loads and later records append cleanly",
              arguments: ToleratedState.all)
        func tolerated(_ damage: ToleratedState) throws {
            let folder = try TemporaryFolder("torn-state")
            let path = folder.file("state")
            if let snapshot = damage.snapshot { try Data(snapshot).write(to: URL(fileURLWithPath: path)) }
            if let journal = damage.journal { try Data(journal).write(to: URL(fileURLWithPath: path + ".journal")) }
            do {
                let store = try FileStateStore(path: path)
                #expect(store.count == damage.records.count)
                #expect(store.loadSummary.tornTailBytes == damage.droppedBytes)
                for index in damage.records { #expect(store.record(for: sampleRecord(index).digest) == sampleRecord(index)) }
                try store.record(sampleRecord(99))
                try store.close()
            }
            let reopened = try FileStateStore(path: path)
            #expect(reopened.count == damage.records.count + 1)
            #expect(reopened.loadSummary.tornTailBytes == 0)
            #expect(reopened.record(for: sampleRecord(99).digest) == sampleRecord(99))
        }

        @Test("State: a path no user can use is an error naming it, even for root", arguments: UnusableStatePath.allCases)
        func unusablePath(_ unusable: UnusableStatePath) throws {
            let folder = try TemporaryFolder("unusable-state")
            let (statePath, named) = try unusable.prepare(in: folder)
            let before = try folderContents(folder.path)
            let error = try #require(throws: StateFileError.self) { try FileStateStore(path: statePath) }
            #expect(error.kind == unusable.kind)
            #expect(error.description.hasPrefix("state file \(named): "))
            #expect(error.description.contains(unusable.phrase), "\(error)")
            #expect(try folderContents(folder.path) == before)
        }

        @Test("State: a name that would break a state line is refused before anything is written",
              arguments: ["N844L20G\t.630H", "N844L20G.630H\n", "N844L20G\r\n.630H", ""])
        func unstorableName(_ name: String) throws {
            let folder = try TemporaryFolder("tab-name")
            let path = folder.file("state")
            let store = try FileStateStore(path: path)
            try store.record(sampleRecord(1))
            var bad = sampleRecord(2)
            bad.fileName = name
            let error = try #require(throws: StateFileError.self) { try store.record(bad) }
            #expect(error.kind == .unwritable)
            #expect(error.description.contains(name.debugDescription), "\(error)")
            #expect(store.record(for: bad.digest) == nil)
            try store.close()
            let reopened = try FileStateStore(path: path)
            #expect(reopened.allRecords() == [sampleRecord(1)], "the state still loads, with the good record only")
        }

        @Test("State: a snapshot that cannot be written mid-pass stops the pass; the journal keeps every acceptance")
        func compactionFails() async throws {
            let world = try ForwarderWorld()
            for index in 0..<2 { try world.event(index, ageSeconds: 1000) }
            // Root may write anywhere, but not open a folder as the compaction's temporary file.
            try FileManager.default.createDirectory(atPath: world.statePath + ".tmp", withIntermediateDirectories: false)
            do {
                let (forwarder, _) = try world.forwarder(over: LocalEventFolder(path: world.achPath), compactionMinimum: 1)
                let error = try await #require(throws: StateFileError.self) { try await forwarder.runPass() }
                #expect(error.kind == .unwritable)
                #expect(error.description.contains(world.statePath + ".tmp"), "\(error)")
            }
            #expect(world.uploader.requests.count == 2)
            let reopened = try FileStateStore(path: world.statePath)
            #expect(reopened.count == 2, "both acceptances are in the journal")
            expectNothingRecordedUnaccepted(reopened, accepted: world.uploader.requests)
            try reopened.close()

            try FileManager.default.removeItem(atPath: world.statePath + ".tmp")
            let (forwarder, store) = try world.forwarder(over: LocalEventFolder(path: world.achPath), compactionMinimum: 1)
            let report = try await forwarder.runPass()
            #expect(report.skips[.alreadyForwarded] == 2)
            #expect(world.uploader.requests.count == 2, "nothing is uploaded again")
            #expect(store.count == 2)
        }

        @Test("State: a record that cannot be written stops the pass; what was accepted but not recorded goes again")
        func recordFails() async throws {
            let world = try ForwarderWorld()
            for index in 0..<3 { try world.event(index, ageSeconds: Double(1000 - index)) }
            do {
                let inner = try FileStateStore(path: world.statePath)
                let forwarder = EventForwarder(folder: LocalEventFolder(path: world.achPath), uploader: world.uploader,
                                               store: FullDiskStore(inner, allowed: 1), clock: world.clock,
                                               policy: world.policy, logger: quietLogger)
                let error = try await #require(throws: StateFileError.self) { try await forwarder.runPass() }
                #expect(error.kind == .unwritable)
                #expect(world.uploadedNames == [eventName(0), eventName(1)], "the pass stops at the failed record")
            }
            let (forwarder, store) = try world.forwarder(over: LocalEventFolder(path: world.achPath))
            #expect(store.count == 1)
            let report = try await forwarder.runPass()
            #expect(report.forwarded == 2)
            #expect(world.uploadedNames == [eventName(0), eventName(1), eventName(1), eventName(2)])
            #expect(store.count == 3)
            expectNothingRecordedUnaccepted(store, accepted: world.uploader.requests)
        }
    }
}

// MARK: - Settings

/// A numeric setting, the boundaries it must keep, and what each boundary resolves to.
struct NumericSetting: Sendable, CustomTestStringConvertible {
    var key: SettingsResolver.Key
    var isWholeNumber: Bool
    /// The smallest value allowed and the setting it resolves to, then the first value refused below it.
    var smallest: (text: String, resolved: String)
    var belowSmallest: String
    var largest: (text: String, resolved: String)
    var aboveLargest: String
    /// The resolved setting, as text to compare with the expected boundaries.
    var resolved: @Sendable (ForwarderSettings) -> String

    var testDescription: String { key.rawValue }

    static let all: [NumericSetting] = [
        NumericSetting(key: .passIntervalSeconds, isWholeNumber: false, smallest: ("0.001", "0.001 seconds"),
                       belowSmallest: "0", largest: ("31536000", "31536000.0 seconds"), aboveLargest: "31536000.5",
                       resolved: { "\($0.passInterval)" }),
        NumericSetting(key: .forwardsPerPassLimit, isWholeNumber: true, smallest: ("0", "unlimited"), belowSmallest: "-1",
                       largest: ("10000000", "10000000"), aboveLargest: "10000001",
                       resolved: { $0.policy.forwardsPerPassLimit.map(String.init) ?? "unlimited" }),
        NumericSetting(key: .maximumEventAgeDays, isWholeNumber: true, smallest: ("1", "86400.0 seconds"), belowSmallest: "0",
                       largest: ("36500", "3153600000.0 seconds"), aboveLargest: "36501",
                       resolved: { "\($0.policy.maximumEventAge)" }),
        NumericSetting(key: .quiescenceSeconds, isWholeNumber: false, smallest: ("0", "0.0 seconds"), belowSmallest: "-0.001",
                       largest: ("31536000", "31536000.0 seconds"), aboveLargest: "31536001",
                       resolved: { "\($0.policy.quiescencePeriod)" }),
        NumericSetting(key: .reportGraceSeconds, isWholeNumber: false, smallest: ("0", "0.0 seconds"), belowSmallest: "-1",
                       largest: ("31536000", "31536000.0 seconds"), aboveLargest: "1e9",
                       resolved: { "\($0.policy.reportGracePeriod)" }),
        NumericSetting(key: .requestTimeoutSeconds, isWholeNumber: false, smallest: ("0.5", "0.5 seconds"), belowSmallest: "0",
                       largest: ("31536000", "31536000.0 seconds"), aboveLargest: "31536000.001",
                       resolved: { "\($0.requestTimeout)" }),
        NumericSetting(key: .uploadConcurrency, isWholeNumber: true, smallest: ("1", "1"), belowSmallest: "0",
                       largest: ("64", "64"), aboveLargest: "65", resolved: { "\($0.uploadConcurrency)" }),
    ]
}

extension BadInputMatrixTests {
    @Suite("Settings")
    struct Settings {
        static let configSource = #"C:\Blastware 10\series3-watcher\config.ini"#

        /// Resolves `values` as if they came from series3-watcher's config.ini.
        func resolve(_ values: [String: String]) throws -> ForwarderSettings {
            try SettingsResolver.resolve([SettingsLayer(source: Self.configSource, values: values)])
        }

        /// Expects `key = value` to be refused with a message naming the key, the value and the file.
        func expectRefused(_ key: SettingsResolver.Key, _ value: String, also: [String: String] = [:],
                           sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(sourceLocation: sourceLocation) {
                try resolve(also.merging([key.rawValue: value]) { $1 })
            } throws: { error in
                guard let error = error as? SettingsError else { return false }
                return error.key == key.rawValue && error.value == value && error.source == Self.configSource
                    && error.description.hasPrefix("invalid \(key.rawValue)=\"\(value)\" (from \(Self.configSource)): expected ")
            }
        }

        @Test("Settings: a number of the wrong type or out of any range is refused, naming key, value and file",
              arguments: NumericSetting.all, ["abc", "", "   ", "-1", "99999999999999999999", "1e400", "nan", "inf", "5 s", "0x"])
        func wrongNumber(_ setting: NumericSetting, _ value: String) {
            expectRefused(setting.key, value)
        }

        @Test("Settings: whole-number keys refuse fractions and exponents; keys in seconds take them", arguments: NumericSetting.all)
        func fractions(_ setting: NumericSetting) throws {
            for value in ["1.5", "2e1"] {
                if setting.isWholeNumber {
                    expectRefused(setting.key, value)
                } else {
                    _ = try resolve([setting.key.rawValue: value])
                }
            }
        }

        @Test("Settings: each range keeps its boundaries exactly", arguments: NumericSetting.all)
        func boundaries(_ setting: NumericSetting) throws {
            expectRefused(setting.key, setting.belowSmallest)
            expectRefused(setting.key, setting.aboveLargest)
            #expect(setting.resolved(try resolve([setting.key.rawValue: " \(setting.smallest.text) "])) == setting.smallest.resolved)
            #expect(setting.resolved(try resolve([setting.key.rawValue: setting.largest.text])) == setting.largest.resolved)
        }

        @Test("Settings: a boolean in other words is refused",
              arguments: ["maybe", "", "2", "tru", "yes please", "enabled", "ja", "-1"])
        func badBoolean(_ value: String) {
            expectRefused(.forwardingEnabled, value)
        }

        @Test("Settings: configparser's boolean words are taken in any case and spacing",
              arguments: [("TRUE", true), (" yes ", true), ("On", true), ("1", true), ("No", false), ("off", false), ("0", false)])
        func goodBoolean(_ value: String, _ expected: Bool) throws {
            #expect(try resolve([SettingsResolver.Key.forwardingEnabled.rawValue: value]).forwardingEnabled == expected)
        }

        @Test("Settings: a server URL without http(s), a host, or with a query or fragment is refused",
              arguments: ["sfm.local:8200", "sfm.local", "http://", "http:///db", "ftp://sfm.local", "file:///tmp/sfm",
                          "http://sfm.local:8200/?serial=BE12844", "http://sfm.local#top", "http://sfm local", "//sfm.local"])
        func badURL(_ value: String) {
            expectRefused(.serverURL, value)
        }

        @Test("Settings: an empty server URL means none, and usable URLs are kept as written")
        func emptyAndGoodURL() throws {
            #expect(try resolve([SettingsResolver.Key.serverURL.rawValue: "  "]).serverURL == nil)
            #expect(try resolve([SettingsResolver.Key.serverURL.rawValue: "HTTPS://sfm.local/base "]).serverURL
                        == "HTTPS://sfm.local/base")
        }

        @Test("Settings: an unknown log format is refused", arguments: ["xml", "", "texts", "json lines", "syslog"])
        func badLogFormat(_ value: String) {
            expectRefused(.logFormat, value)
        }

        @Test("Settings: an empty watch folder or state path is refused, not defaulted",
              arguments: [SettingsResolver.Key.watchFolder, .statePath])
        func emptyPath(_ key: SettingsResolver.Key) {
            expectRefused(key, " ")
        }

        @Test("Settings: a later source mends an earlier bad value; a later bad value is blamed on its own source")
        func layers() throws {
            let key = SettingsResolver.Key.uploadConcurrency.rawValue
            let mended = try SettingsResolver.resolve([SettingsLayer(source: Self.configSource, values: [key: "lots"]),
                                                       SettingsLayer(source: "environment", values: [key.lowercased(): "8"])])
            #expect(mended.uploadConcurrency == 8)
            #expect {
                try SettingsResolver.resolve([SettingsLayer(source: Self.configSource, values: [key: "8"]),
                                              SettingsLayer(source: "--upload-concurrency", values: [key: "100"])])
            } throws: { error in
                (error as? SettingsError)?.description
                    == "invalid SFM_UPLOAD_CONCURRENCY=\"100\" (from --upload-concurrency): expected a whole number from 1 to 64"
            }
        }
    }
}

/// A config file the command line must refuse, or read.
enum ConfigFileCase: String, CaseIterable, Sendable {
    case missing
    case folder
    case lineWithoutSeparator
    case binary

    func prepare(at path: String) throws {
        switch self {
        case .missing: break
        case .folder: try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        case .lineWithoutSeparator:
            try Data("[watcher]\nSFM_URL = http://127.0.0.1:9\nSFM_FORWARD_ENABLED yes\n".utf8)
                .write(to: URL(fileURLWithPath: path))
        case .binary: try Data([0x00, 0x01, 0x02, 0xFF, 0x0A]).write(to: URL(fileURLWithPath: path))
        }
    }

    /// What standard error must say after the path.
    var message: String {
        switch self {
        case .missing: return ": it does not exist"
        case .folder: return ": it is a folder, not a file"
        case .lineWithoutSeparator: return #":3: cannot read "SFM_FORWARD_ENABLED yes": expected KEY = VALUE"#
        case .binary: return #":1: cannot read "#
        }
    }
}

extension BadInputMatrixTests {
    @Suite("Command line")
    struct CommandLineInput {
        @Test("Config: an unusable config.ini exits 2 naming the file and what is wrong, and creates no state",
              arguments: ConfigFileCase.allCases)
        func unusable(_ config: ConfigFileCase) async throws {
            let folder = try TemporaryFolder("bad-config")
            let path = folder.file("config.ini")
            try config.prepare(at: path)
            let result = try await runProcessOffPool(try builtProduct("event-forwarder"), ["once", "--config", path])
            #expect(result.status == 2)
            #expect(result.standardError.contains(path + config.message), "\(result.standardError)")
            #expect(!FileManager.default.fileExists(atPath: folder.file("sfm_forward.state.journal")))
        }

        @Test("Command line: a damaged state exits 2 naming the file and the line, and is left as it was")
        func damagedState() async throws {
            let folder = try TemporaryFolder("bad-state-process")
            try FileManager.default.createDirectory(atPath: folder.file("ach"), withIntermediateDirectories: false)
            let damaged = Data(stateText(0..<1) + Array("garbage\n".utf8) + stateText(header: "", 2..<3))
            try damaged.write(to: URL(fileURLWithPath: folder.file("state")))
            let result = try await runProcessOffPool(try builtProduct("event-forwarder"),
                                        ["once", "--watch", folder.file("ach"), "--state", folder.file("state"),
                                         "--url", "http://127.0.0.1:9"])
            #expect(result.status == 2)
            #expect(result.standardError.contains("state file \(folder.file("state")): line 3 is not a valid record"),
                    "\(result.standardError)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: folder.file("state"))) == damaged)
            #expect(!FileManager.default.fileExists(atPath: folder.file("state.journal")))
        }

        @Test("Config: a config.ini in Windows-1252, as series3-watcher's Python reads it, is read with its accents")
        func windows1252() async throws {
            let folder = try TemporaryFolder("cp1252-config")
            let watch = folder.file("Données ACH")
            try FileManager.default.createDirectory(atPath: watch, withIntermediateDirectories: false)
            try folder.write("Données ACH/" + eventName(1), eventBytes(1), ageSeconds: 1000, now: FileTime(Date()))
            let config = "[watcher]\r\n; é as one byte\r\nSERIES3_PATH = \(watch)\r\nSFM_FORWARD_ENABLED = yes\r\n"
                + "SFM_URL = http://127.0.0.1:9\r\n"
            let bytes = try #require(config.data(using: .windowsCP1252))
            #expect(String(data: bytes, encoding: .utf8) == nil, "the file must not be valid UTF-8")
            try bytes.write(to: URL(fileURLWithPath: folder.file("config.ini")))
            let result = try await runProcessOffPool(try builtProduct("event-forwarder"),
                                        ["once", "--config", folder.file("config.ini"), "--dry-run"])
            #expect(result.status == 0, "\(result.standardError)")
            #expect(result.standardOutput.contains("binaries=1"), "\(result.standardOutput)")
        }
    }
}

// MARK: - Files mid-pass

/// What becomes of an event binary between the listing and its read.
enum BinarySwap: String, CaseIterable, Sendable {
    case vanishes
    case becomesAFolder
    case becomesANamedPipe

    /// Moves the binary aside and puts the replacement in its place.
    func apply(to name: String, in world: ForwarderWorld) throws {
        try FileManager.default.moveItem(atPath: world.achFile(name), toPath: world.achFile("held-aside"))
        switch self {
        case .vanishes: break
        case .becomesAFolder:
            try createEntry(Array(name.utf8), in: world.achPath, kind: .directory, ageSeconds: 0, now: world.clock.now())
        case .becomesANamedPipe:
            try createEntry(Array(name.utf8), in: world.achPath, kind: .other, ageSeconds: 0, now: world.clock.now())
        }
    }

    /// Removes the replacement and moves the binary back, unchanged.
    func undo(for name: String, in world: ForwarderWorld) throws {
        if self != .vanishes { try FileManager.default.removeItem(atPath: world.achFile(name)) }
        try FileManager.default.moveItem(atPath: world.achFile("held-aside"), toPath: world.achFile(name))
    }
}

/// What becomes of a report between the read of its binary and its own read.
enum ReportChange: String, CaseIterable, Sendable {
    case vanishes
    case grows
    case becomesAFolder
}

extension BadInputMatrixTests {
    @Suite("Files mid-pass")
    struct FilesMidPass {
        @Test("Mid-pass: a binary gone or swapped after listing is skipped as changed, and goes once it is back",
              arguments: BinarySwap.allCases)
        func binarySwapped(_ swap: BinarySwap) async throws {
            let world = try ForwarderWorld()
            try world.event(1, ageSeconds: 1000)
            try world.event(2, ageSeconds: 900)
            let folder = MidPassFolder(path: world.achPath)
            folder.afterNextListing { try swap.apply(to: eventName(1), in: world) }
            // Should a named pipe block the read, a writer opening it later frees the pass to fail.
            let pipePath = world.achFile(eventName(1))
            let writerDelaySeconds = 30
            DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(writerDelaySeconds)) {
                let descriptor = open(pipePath, O_WRONLY | O_NONBLOCK)
                if descriptor >= 0 { close(descriptor) }
            }
            let (forwarder, store) = try world.forwarder(over: folder)
            let started = ContinuousClock.now
            let first = try await forwarder.runPass()
            // A blocked read would end only when the writer opens the pipe.
            #expect(ContinuousClock.now - started < .seconds(writerDelaySeconds), "a pipe must not block the pass")
            #expect(first.skips[.changedWhileReading] == 1)
            #expect(first.skips[.unreadable] == nil)
            #expect(world.uploadedNames == [eventName(2)])

            try swap.undo(for: eventName(1), in: world)
            let second = try await forwarder.runPass()
            #expect(second.forwarded == 1)
            #expect(world.uploadedNames == [eventName(2), eventName(1)])
            #expect(world.uploader.requests.last?.binary.contents == eventBytes(1))
            #expect(world.uploader.requests.last?.report != nil)
            expectNothingRecordedUnaccepted(store, accepted: world.uploader.requests)
        }

        @Test("Mid-pass: a binary replaced after listing by other bytes of the same size is never recorded under the old bytes")
        func replacedSameSizeWithCachedDigest() async throws {
            let serverDown = Mutex(true)
            let world = try ForwarderWorld(answer: { request in
                serverDown.withLock { $0 } ? .failed(UploadProblem(kind: .transport, detail: "reset"))
                    : RecordingUploader.acceptAll(request)
            })
            try world.event(1, ageSeconds: 1000, report: false)
            let folder = MidPassFolder(path: world.achPath)
            let (forwarder, store) = try world.forwarder(over: folder)
            let failed = try await forwarder.runPass()
            #expect(failed.failed == 1, "the forwarder now knows the digest of the first bytes")

            serverDown.withLock { $0 = false }
            world.clock.advance(by: RetryPolicy().baseDelay)
            folder.afterNextListing {
                // The first bytes move to another event name; new bytes of the same size take the old name.
                try FileManager.default.moveItem(atPath: world.achFile(eventName(1)), toPath: world.achFile(eventName(2)))
                try world.write(eventName(1), eventBytes(99), ageSeconds: 800)
            }
            let swapped = try await forwarder.runPass()
            #expect(swapped.skips[.changedWhileReading] == 1)
            #expect(store.count == 0, "nothing recorded from a read that did not match the listing")

            let settled = try await forwarder.runPass()
            #expect(settled.forwarded == 2)
            let accepted = world.uploader.requests.dropFirst()
            #expect(Set(accepted.map(\.binary.contents)) == [eventBytes(1), eventBytes(99)], "both contents reach the server")
            #expect(store.record(for: EventDigest(of: eventBytes(1)))?.fileName == eventName(2))
            #expect(store.record(for: EventDigest(of: eventBytes(99)))?.fileName == eventName(1))
            expectNothingRecordedUnaccepted(store, accepted: Array(accepted))
        }

        @Test("Mid-pass: a binary replaced after listing, before it was ever hashed, is recorded under the bytes sent")
        func replacedSameSizeUnhashed() async throws {
            let world = try ForwarderWorld()
            try world.event(1, ageSeconds: 1000)
            let folder = MidPassFolder(path: world.achPath)
            folder.afterNextListing {
                try world.write(eventName(1) + ".new", eventBytes(99), ageSeconds: 1000)
                try FileManager.default.removeItem(atPath: world.achFile(eventName(1)))
                try FileManager.default.moveItem(atPath: world.achFile(eventName(1) + ".new"), toPath: world.achFile(eventName(1)))
            }
            let (forwarder, store) = try world.forwarder(over: folder)
            _ = try await forwarder.runPass()
            #expect(world.uploader.requests.map(\.binary.contents) == [eventBytes(99)])
            #expect(store.record(for: EventDigest(of: eventBytes(99)))?.fileName == eventName(1))
            let steady = try await forwarder.runPass()
            #expect(steady.skips[.alreadyForwarded] == 1)
            #expect(world.uploader.requests.count == 1)
            expectNothingRecordedUnaccepted(store, accepted: world.uploader.requests)
        }

        @Test("Mid-pass: a binary that grows after listing waits, then goes whole once it settles")
        func binaryGrows() async throws {
            let world = try ForwarderWorld()
            try world.event(1, ageSeconds: 1000)
            let folder = MidPassFolder(path: world.achPath)
            let tail = Data(repeating: 0x5A, count: 100)
            folder.afterNextListing { try append(tail, to: world.achFile(eventName(1))) }
            let (forwarder, store) = try world.forwarder(over: folder)
            let first = try await forwarder.runPass()
            #expect(first.skips[.changedWhileReading] == 1)
            #expect(world.uploader.requests.isEmpty)
            world.clock.advance(by: .seconds(60))
            _ = try await forwarder.runPass()
            #expect(world.uploader.requests.map(\.binary.contents) == [eventBytes(1) + tail])
            expectNothingRecordedUnaccepted(store, accepted: world.uploader.requests)
        }

        @Test("Mid-pass: a binary this user may not read is counted unreadable; the others go, and it goes once readable")
        func permissionDenied() async throws {
            let world = try ForwarderWorld()
            for index in 0..<3 { try world.event(index, ageSeconds: Double(1000 - index)) }
            let folder = MidPassFolder(path: world.achPath)
            folder.deny([eventName(1)])
            let (forwarder, store) = try world.forwarder(over: folder)
            let first = try await forwarder.runPass()
            #expect(first.skips[.unreadable] == 1)
            #expect(world.uploadedNames == [eventName(0), eventName(2)])
            #expect(store.count == 2)

            folder.deny([])
            _ = try await forwarder.runPass()
            #expect(world.uploadedNames == [eventName(0), eventName(2), eventName(1)])
            expectNothingRecordedUnaccepted(store, accepted: world.uploader.requests)
        }

        @Test("Mid-pass: a named pipe or folder named like an event is never opened; the pass goes on",
              arguments: [FolderEntry.Kind.other, .directory])
        func notARegularFile(_ kind: FolderEntry.Kind) async throws {
            let world = try ForwarderWorld()
            try world.event(2, ageSeconds: 900)
            try createEntry(Array(eventName(1).utf8), in: world.achPath, kind: kind, ageSeconds: 1000, now: world.clock.now())
            try createEntry(Array("K123_20240101_120000.bw".utf8), in: world.achPath, kind: kind, ageSeconds: 1000,
                            now: world.clock.now())
            let (forwarder, _) = try world.forwarder(over: LocalEventFolder(path: world.achPath))
            let report = try await forwarder.runPass()
            #expect(report.skips[.notARegularFile] == 2)
            #expect(report.eventBinaries == 1)
            #expect(world.uploadedNames == [eventName(2)])
        }

        @Test("Mid-pass: a report that vanishes, grows or turns into a folder after its binary is read holds the pair back; the whole pair goes later",
              arguments: ReportChange.allCases)
        func reportChanges(_ change: ReportChange) async throws {
            let world = try ForwarderWorld()
            try world.event(1, ageSeconds: 1000)
            let report = achReportName(eventName(1))
            let originalReport = try Data(contentsOf: URL(fileURLWithPath: world.achFile(report)))
            let tail = Data("\"Peak Vector Sum : 0.105 in/s\"\r\n".utf8)
            let folder = MidPassFolder(path: world.achPath)
            folder.beforeNextRead(of: report) {
                switch change {
                case .vanishes:
                    try FileManager.default.moveItem(atPath: world.achFile(report), toPath: world.achFile("held-aside"))
                case .grows:
                    try append(tail, to: world.achFile(report))
                case .becomesAFolder:
                    try FileManager.default.moveItem(atPath: world.achFile(report), toPath: world.achFile("held-aside"))
                    try FileManager.default.createDirectory(atPath: world.achFile(report), withIntermediateDirectories: false)
                }
            }
            let (forwarder, store) = try world.forwarder(over: folder)
            let first = try await forwarder.runPass()
            #expect(first.skips[.changedWhileReading] == 1)
            #expect(world.uploader.requests.isEmpty, "the binary does not go without the report it was listed with")

            if change != .grows {
                if change == .becomesAFolder { try FileManager.default.removeItem(atPath: world.achFile(report)) }
                try FileManager.default.moveItem(atPath: world.achFile("held-aside"), toPath: world.achFile(report))
            } else {
                let waiting = try await forwarder.runPass()
                #expect(waiting.skips[.reportNotQuiescent] == 1)
                world.clock.advance(by: .seconds(60))
            }
            let later = try await forwarder.runPass()
            #expect(later.forwardedWithReport == 1)
            let request = try #require(world.uploader.requests.last)
            #expect(request.binary.contents == eventBytes(1))
            #expect(request.report?.contents == (change == .grows ? originalReport + tail : originalReport))
            #expect(world.uploader.requests.count == 1)
            expectNothingRecordedUnaccepted(store, accepted: world.uploader.requests)
        }
    }
}

// MARK: - Names

/// An entry with an odd name beside a normal event, and what the pass must make of it.
struct OddName: Sendable, CustomTestStringConvertible {
    enum Outcome: Sendable { case noise, notARegularFile, uploadedWith(report: String) }

    var label: String
    var name: [UInt8]
    var kind = FolderEntry.Kind.regularFile
    var outcome: Outcome
    var testDescription: String { label }

    var isUploaded: Bool {
        if case .uploadedWith = outcome { return true }
        return false
    }

    init(_ label: String, _ name: String, kind: FolderEntry.Kind = .regularFile, _ outcome: Outcome) {
        self.init(label, Array(name.utf8), kind: kind, outcome)
    }

    init(_ label: String, _ name: [UInt8], kind: FolderEntry.Kind = .regularFile, _ outcome: Outcome) {
        self.label = label
        self.name = name
        self.kind = kind
        self.outcome = outcome
    }

    static let all: [OddName] = [
        OddName("space inside", "N844 20G.630H", .noise),
        OddName("trailing space", "N844L20G.630H ", .noise),
        OddName("Unicode, composed (NFC)", "\u{D1}844L20G.630H", .noise),
        OddName("Unicode, decomposed (NFD)", "N\u{303}844L20G.630H", .noise),
        OddName("Kelvin sign for K", "\u{212A}844L20G.630H", .noise),
        OddName("full-width digit", "N\u{FF18}44L20G.630H", .noise),
        OddName("tab", "N844L20G.63\tH", .noise),
        OddName("newline", "N844L20G.630\n", .noise),
        OddName("bytes that are not UTF-8", [0x4E, 0xE9] + Array("44L20G.630H".utf8), .noise),
        OddName("Unicode report name", "\u{D1}844L20G_630H_ASCII.TXT", .noise),
        OddName("folder named like an event", "N844L20G.630H", kind: .directory, .notARegularFile),
        OddName("folder named like a Blastware export", "K123_20240101_120000.bw", kind: .directory, .notARegularFile),
        OddName("lower case, report in upper case", "n844l20g.630h", .uploadedWith(report: "N844L20G_630H_ASCII.TXT")),
        OddName("mixed case, report in lower case", "N844l20G.630h", .uploadedWith(report: "n844l20g_630h_ascii.txt")),
        OddName("lower-case extension, manual report name", "K123ABCD.ab4", .uploadedWith(report: "K123ABCD.AB4.txt")),
    ]
}

extension BadInputMatrixTests {
    @Suite("Names")
    struct Names {
        @Test("Names: odd names are noise, not regular files, or events paired by case; the state stays loadable",
              arguments: OddName.all)
        func oddName(_ odd: OddName) async throws {
            let world = try ForwarderWorld()
            try world.event(1, ageSeconds: 1000)
            try createEntry(odd.name, in: world.achPath, kind: odd.kind, contents: eventBytes(7), ageSeconds: 1000,
                            now: world.clock.now())
            if case .uploadedWith(let report) = odd.outcome {
                try world.write(report, Data("odd report".utf8), ageSeconds: 1000)
            }
            let (forwarder, store) = try world.forwarder(over: LocalEventFolder(path: world.achPath))
            let report = try await forwarder.runPass()
            #expect(report.listedEntries == (odd.isUploaded ? 4 : 3), "the event, its report, the odd entry and any report of it")
            switch odd.outcome {
            case .noise:
                #expect(report.skips[.notAnEvent] == 1)
                #expect(world.uploadedNames == [eventName(1)])
            case .notARegularFile:
                #expect(report.skips[.notARegularFile] == 1)
                #expect(world.uploadedNames == [eventName(1)])
            case .uploadedWith(let reportName):
                let name = String(decoding: odd.name, as: UTF8.self)
                let request = try #require(world.uploader.requests.first { $0.binary.name == name })
                #expect(request.report?.name == reportName)
                #expect(request.report?.contents == Data("odd report".utf8))
                #expect(report.forwarded == 2)
            }
            try store.close()
            let reopened = try FileStateStore(path: world.statePath)
            #expect(Set(reopened.allRecords().map(\.fileName)) == Set(world.uploadedNames))
        }

        @Test("Names: the NFC and NFD spellings of one name are two files, both listed and both noise")
        func composedAndDecomposed() throws {
            let folder = try TemporaryFolder("nfc-nfd")
            let now = FileTime(Date())
            try createEntry(Array("\u{D1}844L20G.630H".utf8), in: folder.path, ageSeconds: 10, now: now)
            try createEntry(Array("N\u{303}844L20G.630H".utf8), in: folder.path, ageSeconds: 10, now: now)
            let entries = try LocalEventFolder(path: folder.path).listEntries()
            #expect(entries.map { Array($0.name.utf8) }.sorted { $0.lexicographicallyPrecedes($1) }
                        == [Array("N\u{303}844L20G.630H".utf8), Array("\u{D1}844L20G.630H".utf8)])
            let plan = ScanPlanner.plan(entries: entries, now: now, policy: ScanPolicy(), cache: DigestCache(),
                                        acceptedRecord: { _ in nil })
            #expect(plan.skips[.notAnEvent] == 2)
        }

        @Test("Names: a report whose name only looks like the binary's under Unicode equivalence is never paired",
              arguments: [false, true])
        func kelvinDecoy(realReportListedFirst: Bool) {
            let now = FileTime(secondsSince1970: 2_000_000_000)
            let old = now - .seconds(1000)
            let binary = FolderEntry(name: "K123ABCD.AB0W", byteCount: 3000, modificationTime: old)
            let real = FolderEntry(name: "K123ABCD_AB0W_ASCII.TXT", byteCount: 10, modificationTime: old)
            // U+212A KELVIN SIGN is canonically equivalent to "K", so Swift strings compare it equal.
            let decoy = FolderEntry(name: "\u{212A}123ABCD_AB0W_ASCII.TXT", byteCount: 99, modificationTime: old)
            let listing = realReportListedFirst ? [binary, real, decoy] : [binary, decoy, real]
            let plan = ScanPlanner.plan(entries: listing, now: now, policy: ScanPolicy(), cache: DigestCache(),
                                        acceptedRecord: { _ in nil })
            #expect(plan.candidates.map(\.report) == [real])
            #expect(plan.skips[.notAnEvent] == 1)

            let alone = ScanPlanner.plan(entries: [binary, decoy], now: now, policy: ScanPolicy(), cache: DigestCache(),
                                         acceptedRecord: { _ in nil })
            #expect(alone.candidates.map(\.report) == [nil], "past the grace period the binary goes alone")
        }
    }
}
