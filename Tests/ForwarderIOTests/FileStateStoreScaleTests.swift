import ForwarderCore
@testable import ForwarderIO
import Foundation
import Testing

/// The compact state (issue #14): files read in blocks, lookups by digest and by name.
@Suite("FileStateStoreScale")
struct FileStateStoreScaleTests {
    func record(_ index: Int, name: String? = nil, hadReport: Bool = true) -> ForwardRecord {
        FileStateStoreTests().record(index, name: name, hadReport: hadReport)
    }

    @Test("State: a snapshot and journal larger than a read block reload every record, by digest and by name")
    func reloadAcrossBlocks() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("state")
        // About 130 bytes a line: 3 blocks of snapshot, then a journal of more than one block.
        let snapshotRecords = (0..<25_000).map { record($0, hadReport: $0 % 7 != 0) }
        let journalRecords = (25_000..<35_000).map { record($0) }
        do {
            let store = try FileStateStore(path: path, compactionMinimum: 1)
            try store.record(contentsOf: snapshotRecords)
            try store.sync()
            try store.record(contentsOf: journalRecords)
            try store.close()
        }
        let snapshotBytes = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
        let journalBytes = try FileManager.default.attributesOfItem(atPath: path + ".journal")[.size] as? Int ?? 0
        #expect(snapshotBytes > 2 * StateFileReading.blockByteCount)
        #expect(journalBytes > StateFileReading.blockByteCount)

        let reopened = try FileStateStore(path: path, readOnly: true)
        #expect(reopened.count == 35_000)
        #expect(reopened.loadSummary.snapshotRecords == 25_000)
        #expect(reopened.loadSummary.journalRecords == 10_000)
        #expect(reopened.withoutReportCount == snapshotRecords.filter { !$0.hadReport }.count)
        for record in snapshotRecords + journalRecords {
            #expect(reopened.record(for: record.digest) == record)
            #expect(reopened.record(forName: record.fileName) == record)
        }
        #expect(reopened.record(forName: "NOT-THERE.AB0W") == nil)
    }

    @Test("State: a torn journal tail after a read block boundary is dropped, and the lines before it kept")
    func tornTailAcrossBlocks() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("state")
        let records = (0..<12_000).map { record($0) }
        do {
            let store = try FileStateStore(path: path, compactionMinimum: 1_000_000)
            try store.record(contentsOf: records)
            try store.close()
        }
        let journal = try FileHandle(forWritingTo: URL(fileURLWithPath: path + ".journal"))
        try journal.seekToEnd()
        try journal.write(contentsOf: Data(StateRecordCodec.encode(record(99_999)).utf8.prefix(50)))
        try journal.close()

        let reopened = try FileStateStore(path: path)
        #expect(reopened.count == 12_000)
        #expect(reopened.loadSummary.tornTailBytes == 50)
        #expect(reopened.record(for: record(99_999).digest) == nil)
        #expect(reopened.record(forName: records.last!.fileName) == records.last)
        try reopened.record(record(12_000))
        try reopened.close()
        #expect(try FileStateStore(path: path, readOnly: true).count == 12_001, "the next append starts after the cut")
    }

    @Test("State: the name answers the record accepted last under it, after reopening too")
    func lastRecordByName() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("state")
        let old = record(1, name: "SAME.AB0W")
        let new = record(2, name: "SAME.AB0W")
        do {
            let store = try FileStateStore(path: path)
            try store.record(old)
            try store.record(new)
            #expect(store.record(forName: "SAME.AB0W") == new)
            try store.close()
        }
        let reopened = try FileStateStore(path: path, readOnly: true)
        #expect(reopened.record(forName: "SAME.AB0W") == new)
        #expect(reopened.record(for: old.digest) == old)
    }

    @Test("State: a version-1 time beyond 2262 is refused naming its entry, not trapping")
    func versionOneTimeOutOfRange() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("sfm_forwarded.json")
        let digest = EventDigest(of: eventBytes(1, byteCount: 64)).hex
        let json = #"{"version": 1, "forwarded": {"\#(digest)": {"filename": "N844L20G.630H", "forwarded_at": "2300-01-01T00:00:00Z"}}}"#
        try Data(json.utf8).write(to: URL(fileURLWithPath: path))
        #expect {
            try FileStateStore(path: path)
        } throws: { error in
            guard let error = error as? StateFileError, case .invalidVersionOneEntry(let key) = error.kind else { return false }
            return key == digest && "\(error)".contains("2300-01-01T00:00:00Z") && "\(error)".contains(path)
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == json, "the refused file is left as it was")
    }
}
