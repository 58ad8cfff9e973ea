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

// The bad-input matrix (issue #7): damaged, torn and foreign state files (vocabulary in BadInputMatrixTests.swift).
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
    func record(forName fileName: String) -> ForwardRecord? { inner.record(forName: fileName) }
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
