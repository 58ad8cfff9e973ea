import ForwarderCore
@testable import ForwarderIO
import Foundation
import Testing

/// Format-5 snapshots as the store writes and reads them (issue #14).
@Suite("File state store, format 5")
struct BinarySnapshotStoreTests {
    func record(_ index: Int, name: String? = nil) -> ForwardRecord {
        ForwardRecord(digest: EventDigest(of: eventBytes(index, byteCount: 64)), fileName: name ?? eventName(index), byteCount: 64 + Int64(index),
                      hadReport: index % 4 != 0, forwardedAt: FileTime(nanosecondsSince1970: Int64(index) * 1_000_000_000),
                      fingerprint: index % 5 == 0 ? nil
                          : FileFingerprint(byteCount: 64 + Int64(index), modificationTime: FileTime(nanosecondsSince1970: Int64(index)),
                                            identity: index % 3 == 0 ? nil : FileIdentity(volume: UInt64(index % 2), file: UInt64(index))))
    }

    func attempts(_ index: Int) -> DeliveryAttempts {
        DeliveryAttempts(fileName: eventName(index), digest: EventDigest(of: eventBytes(index, byteCount: 64)),
                         fingerprint: FileFingerprint(byteCount: 64, modificationTime: FileTime(nanosecondsSince1970: 3), identity: nil),
                         failures: 2, rejections: 1, lastAttemptAt: FileTime(secondsSince1970: 100),
                         nextAttemptAt: FileTime(secondsSince1970: 160), quarantined: index % 2 == 0, lastError: "HTTP 503: busy")
    }

    /// What a loaded store holds, to compare two loads.
    struct Contents: Equatable {
        var records: [EventDigest: ForwardRecord]
        var attempts: [String: DeliveryAttempts]
        var consecutiveFailures: Int

        init(_ store: FileStateStore) {
            records = Dictionary(store.allRecords().map { ($0.digest, $0) }, uniquingKeysWith: { _, last in last })
            attempts = Dictionary(store.allAttempts().map { ($0.fileName, $0) }, uniquingKeysWith: { _, last in last })
            consecutiveFailures = store.consecutiveFailures
        }
    }

    func isFormatFive(_ path: String) throws -> Bool {
        try Data(contentsOf: URL(fileURLWithPath: path)).starts(with: Array("BLASTWARE-FORWARDER-STATE 5\n".utf8))
    }

    /// A store with records, renamed records, attempts and a breaker count, compacted to a format-5 snapshot.
    func writeFormatFive(at path: String, recordCount: Int = 40) throws -> Contents {
        let store = try FileStateStore(path: path, compactionMinimum: 1)
        try store.record(contentsOf: (0..<recordCount).map { record($0) })
        try store.record(record(3, name: "renamed.AB0W"))
        for index in recordCount..<(recordCount + 3) { try store.recordAttempts(attempts(index)) }
        try store.recordConsecutiveFailures(2)
        try store.sync()
        try store.close()
        #expect(try isFormatFive(path))
        return Contents(try FileStateStore(path: path, readOnly: true))
    }

    @Test("State: a format-4 snapshot and its journal load, are rewritten in format 5 at the first writable start, and load the same")
    func formatFourToFive() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("state")
        var text = StateRecordCodec.header + "\n"
        for index in 0..<300 { text += StateRecordCodec.encode(record(index)) }
        text += StateRecordCodec.encode(.attempts(attempts(400))) + StateRecordCodec.encode(.consecutiveFailures(3))
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        var journal = StateRecordCodec.header + "\n"
        for index in 290..<320 { journal += StateRecordCodec.encode(record(index, name: index < 300 ? "again-\(index)" : nil)) }
        journal += StateRecordCodec.encode(.attempts(attempts(401)))
        try Data(journal.utf8).write(to: URL(fileURLWithPath: path + ".journal"))

        let before = Contents(try FileStateStore(path: path, readOnly: true))
        #expect(before.records.count == 320)
        #expect(!(try isFormatFive(path)), "a read-only load changes nothing")
        try FileStateStore(path: path).close()
        #expect(try isFormatFive(path))
        let after = try FileStateStore(path: path, readOnly: true)
        #expect(Contents(after) == before)
        #expect(after.loadSummary.journalRecords == 0, "the journal was folded into the new snapshot")
        #expect(after.record(forName: "again-295") == record(295, name: "again-295"))
        #expect(after.record(forName: eventName(310)) == record(310))
    }

    @Test("State: a format-5 snapshot takes journal lines after it, and compacts again to the same records")
    func journalOverFormatFive() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("state")
        _ = try writeFormatFive(at: path)
        do {
            let store = try FileStateStore(path: path, compactionMinimum: 1_000)
            try store.record(contentsOf: (43..<100).map { record($0) })
            try store.releaseAttempts(forName: eventName(41))
            try store.close()
        }
        let replayed = try FileStateStore(path: path, readOnly: true)
        #expect(replayed.loadSummary.journalRecords == 58)
        #expect(replayed.count == 97)
        let expected = Contents(replayed)
        #expect(expected.attempts.keys.sorted() == [eventName(40), eventName(42)], "released attempts are gone")
        let compacting = try FileStateStore(path: path, compactionMinimum: 1)
        try compacting.record(record(100))
        try compacting.sync()
        try compacting.close()
        let compacted = try FileStateStore(path: path, readOnly: true)
        #expect(compacted.loadSummary.journalRecords == 0)
        var withOneMore = expected
        withOneMore.records[record(100).digest] = record(100)
        #expect(Contents(compacted) == withOneMore)
    }

    @Test("State: a format-5 snapshot cut at every seventh of its length is refused, naming the file and the cut")
    func truncated() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("state")
        _ = try writeFormatFive(at: path)
        let whole = try Data(contentsOf: URL(fileURLWithPath: path))
        for seventh in 1...6 {
            try whole.prefix(whole.count * seventh / 7).write(to: URL(fileURLWithPath: path))
            let error = try #require(throws: StateFileError.self, "\(seventh)/7") { try FileStateStore(path: path, readOnly: true) }
            #expect(error.kind == .corruptSnapshot)
            #expect(error.description.contains("state file \(path):"))
            #expect(error.description.contains("it was cut short"), "\(error)")
            #expect(error.description.contains("seed-state"))
        }
    }

    @Test("State: a format-5 snapshot with any byte changed is refused, never loaded as some other state")
    func flippedByte() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("state")
        _ = try writeFormatFive(at: path, recordCount: 4)
        let whole = try Data(contentsOf: URL(fileURLWithPath: path))
        for index in whole.indices {
            var damaged = whole
            damaged[index] ^= 0x10
            try damaged.write(to: URL(fileURLWithPath: path))
            let error = try #require(throws: StateFileError.self, "byte \(index)") { try FileStateStore(path: path, readOnly: true) }
            #expect(error.description.contains(path))
            if index >= 28 { #expect(error.kind == .corruptSnapshot, "byte \(index): \(error)") }
        }
        try whole.write(to: URL(fileURLWithPath: path))
        #expect(try FileStateStore(path: path).count == 4, "writable: the checks do not get in the way of a good file")
    }

    @Test("State: a format-6 snapshot is refused by its version and file name, and left as it was")
    func formatSix() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("state")
        _ = try writeFormatFive(at: path)
        var newer = try Data(contentsOf: URL(fileURLWithPath: path))
        newer[26] = UInt8(ascii: "6")
        try newer.write(to: URL(fileURLWithPath: path))
        let error = try #require(throws: StateFileError.self) { try FileStateStore(path: path) }
        #expect(error.kind == .unsupportedVersion("6"))
        #expect(error.description.contains("state file \(path): it is version 6 of the state format"))
        #expect(error.description.contains("version 5 of the binary snapshot"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == newer, "a refused state is left as it was")
    }
}
