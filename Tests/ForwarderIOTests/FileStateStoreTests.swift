import ForwarderCore
@testable import ForwarderIO
import Foundation
import Testing

@Suite("File state store")
struct FileStateStoreTests {
    /// The record of event `index`, under its own name unless `name` is given.
    func record(_ index: Int, name: String? = nil, hadReport: Bool = true) -> ForwardRecord {
        ForwardRecord(digest: EventDigest(of: eventBytes(index, byteCount: 64)), fileName: name ?? eventName(index), byteCount: 64,
                      hadReport: hadReport, forwardedAt: FileTime(nanosecondsSince1970: Int64(index) * 1_000_000_000),
                      fingerprint: FileFingerprint(byteCount: 64, modificationTime: FileTime(nanosecondsSince1970: Int64(index)),
                                                   identity: FileIdentity(volume: 1, file: UInt64(index))))
    }

    @Test("State: records survive reopening, and the last record of a digest wins")
    func reopen() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("state")
        do {
            let store = try FileStateStore(path: path)
            for index in 0..<100 { try store.record(record(index, hadReport: false)) }
            try store.record(record(7, hadReport: true))
            try store.sync()
        }
        let reopened = try FileStateStore(path: path)
        #expect(reopened.count == 100)
        #expect(reopened.record(for: record(7).digest)?.hadReport == true)
        #expect(reopened.record(for: record(8).digest) == record(8, hadReport: false))
    }

    func attempts(_ index: Int, quarantined: Bool = false) -> DeliveryAttempts {
        let accepted = record(index)
        return DeliveryAttempts(fileName: accepted.fileName, digest: accepted.digest, fingerprint: accepted.fingerprint!,
                                failures: 2, rejections: quarantined ? 5 : 1, lastAttemptAt: FileTime(secondsSince1970: 100),
                                nextAttemptAt: FileTime(secondsSince1970: 160), quarantined: quarantined,
                                lastError: "HTTP 503: busy")
    }

    @Test("State: attempts survive reopening and compaction; acceptance and release forget them")
    func attemptsPersist() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("state")
        do {
            let store = try FileStateStore(path: path, compactionMinimum: 1_000)
            for index in 0..<4 { try store.recordAttempts(attempts(index, quarantined: index == 3)) }
            try store.record(record(0))
            try store.releaseAttempts(forName: eventName(1))
            try store.sync()
        }
        let reopened = try FileStateStore(path: path, compactionMinimum: 1)
        #expect(Set(reopened.allAttempts().map(\.fileName)) == [eventName(2), eventName(3)])
        #expect(reopened.attempts(forName: eventName(3)) == attempts(3, quarantined: true))
        #expect(reopened.loadSummary.journalRecords == 6)
        try reopened.recordAttempts(attempts(5))
        try reopened.sync()
        try reopened.close()
        let snapshot = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(snapshot.starts(with: Array("BLASTWARE-FORWARDER-STATE 5\n".utf8)))
        let compacted = try FileStateStore(path: path, readOnly: true)
        #expect(compacted.loadSummary.journalRecords == 0, "compaction emptied the journal")
        #expect(Set(compacted.allAttempts().map(\.fileName)) == [eventName(2), eventName(3), eventName(5)])
        #expect(compacted.count == 1)
    }

    @Test("State: the circuit breaker's count survives reopening and compaction; the last line wins")
    func circuitBreakerPersists() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("state")
        do {
            let store = try FileStateStore(path: path, compactionMinimum: 1_000)
            #expect(store.consecutiveFailures == 0)
            for count in 1...5 { try store.recordConsecutiveFailures(count) }
            try store.record(record(1))
            try store.sync()
        }
        let journal = try String(contentsOfFile: path + ".journal", encoding: .utf8)
        #expect(journal.hasPrefix("BLASTWARE-FORWARDER-STATE 4\n"))
        #expect(journal.contains("\nB\t5\n"))
        let reopened = try FileStateStore(path: path, compactionMinimum: 1)
        #expect(reopened.consecutiveFailures == 5)
        try reopened.sync()
        try reopened.close()
        let snapshot = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(snapshot.range(of: Data("B\t5\n".utf8)) != nil, "compaction keeps the count")
        let compacted = try FileStateStore(path: path)
        #expect(compacted.consecutiveFailures == 5)
        #expect(compacted.count == 1)
        try compacted.recordConsecutiveFailures(0)
        try compacted.close()
        #expect(try FileStateStore(path: path, readOnly: true).consecutiveFailures == 0)
    }

    @Test("State: a version-3 file (no breaker line) loads as it is, with the breaker closed")
    func versionThree() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("state")
        let versionThree = "BLASTWARE-FORWARDER-STATE 3\n" + StateRecordCodec.encode(record(1))
            + StateRecordCodec.encode(attempts(2))
        try versionThree.write(toFile: path, atomically: true, encoding: .utf8)
        let store = try FileStateStore(path: path)
        #expect(store.record(for: record(1).digest) == record(1))
        #expect(store.attempts(forName: eventName(2)) == attempts(2))
        #expect(store.consecutiveFailures == 0)
    }

    @Test("State: a breaker line that is not a count is damage", arguments: ["B\t-1", "B\t", "B\tfive", "B\t99999999999"])
    func damagedBreakerLine(line: String) throws {
        let folder = try TemporaryFolder()
        let path = folder.file("state")
        try ("BLASTWARE-FORWARDER-STATE 4\n" + line + "\n" + StateRecordCodec.encode(record(1)))
            .write(toFile: path, atomically: true, encoding: .utf8)
        let error = try #require(throws: StateFileError.self) { try FileStateStore(path: path) }
        #expect(error.kind == .corruptLine(2))
    }

    @Test("State: a version-2 file loads as it is; a newer version is refused by name")
    func versions() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("state")
        let versionTwo = "BLASTWARE-FORWARDER-STATE 2\n" + StateRecordCodec.encode(record(1))
        try versionTwo.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try FileStateStore(path: path).record(for: record(1).digest) == record(1))
        let newer = "BLASTWARE-FORWARDER-STATE 9\n" + StateRecordCodec.encode(record(1))
        try newer.write(toFile: path, atomically: true, encoding: .utf8)
        try? FileManager.default.removeItem(atPath: path + ".journal")
        let error = try #require(throws: StateFileError.self) { try FileStateStore(path: path) }
        #expect(error.kind == .unsupportedVersion("9"))
        #expect(error.description.contains("version 9"))
        #expect(error.description.contains("reads versions 2, 3 and 4"))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == newer, "a refused state is left as it was")
    }

    @Test("State: a record is on disk as soon as it is recorded, before any sync")
    func appendedImmediately() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("state")
        let store = try FileStateStore(path: path)
        try store.record(record(1))
        let journal = try String(contentsOfFile: path + ".journal", encoding: .utf8)
        #expect(journal.contains(record(1).digest.hex))
    }

    @Test("State: a torn last journal line is dropped and later records append cleanly")
    func tornTail() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("state")
        do {
            let store = try FileStateStore(path: path)
            for index in 0..<3 { try store.record(record(index)) }
            try store.sync()
        }
        let handle = try #require(FileHandle(forWritingAtPath: path + ".journal"))
        handle.seekToEndOfFile()
        handle.write(Data(StateRecordCodec.encode(record(3)).utf8.prefix(50)))
        try handle.close()
        do {
            let store = try FileStateStore(path: path)
            #expect(store.count == 3)
            #expect(store.loadSummary.tornTailBytes == 50)
            try store.record(record(4))
            try store.sync()
        }
        let reopened = try FileStateStore(path: path)
        #expect(reopened.count == 4)
        #expect(reopened.loadSummary.tornTailBytes == 0)
    }

    @Test("State: zero bytes left by a power cut at the journal's end are tolerated")
    func zeroFilledTail() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("state")
        do {
            let store = try FileStateStore(path: path)
            try store.record(record(1))
            try store.sync()
        }
        let handle = try #require(FileHandle(forWritingAtPath: path + ".journal"))
        handle.seekToEndOfFile()
        handle.write(Data(count: 4096))
        try handle.close()
        #expect(try FileStateStore(path: path).count == 1)
    }

    @Test("State: a damaged line in the middle is an error that names the file and the line")
    func corruptMiddle() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("state")
        do {
            let store = try FileStateStore(path: path)
            for index in 0..<3 { try store.record(record(index)) }
            try store.sync()
        }
        var lines = try String(contentsOfFile: path + ".journal", encoding: .utf8).components(separatedBy: "\n")
        lines[2] = "garbage"
        try lines.joined(separator: "\n").write(toFile: path + ".journal", atomically: true, encoding: .utf8)
        #expect {
            try FileStateStore(path: path)
        } throws: { error in
            guard let error = error as? StateFileError else { return false }
            return error.kind == .corruptLine(3) && error.description.contains(path + ".journal")
        }
        let unchanged = try String(contentsOfFile: path + ".journal", encoding: .utf8)
        #expect(unchanged.contains("garbage"), "a damaged state must be left as it was")
    }

    @Test("State: a file that is not a state file is refused, not replaced")
    func unknownFormat() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("state")
        try Data("hello\nworld\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: StateFileError.self) { try FileStateStore(path: path) }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "hello\nworld\n")
    }

    @Test("State: a snapshot cut short is corruption, not a torn journal")
    func truncatedSnapshot() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("state")
        let text = StateRecordCodec.header + "\n" + StateRecordCodec.encode(record(1)) + String(StateRecordCodec.encode(record(2)).prefix(30))
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        #expect {
            try FileStateStore(path: path)
        } throws: { error in
            (error as? StateFileError)?.kind == .corruptLine(3)
        }
    }

    @Test("State: compaction folds the journal into the snapshot and loses nothing")
    func compaction() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("state")
        do {
            let store = try FileStateStore(path: path, compactionMinimum: 10)
            for index in 0..<25 {
                try store.record(record(index))
                try store.sync()
            }
        }
        // Compactions at 10 and 20 records; the last 5 stay in the journal.
        let journalLines = try String(contentsOfFile: path + ".journal", encoding: .utf8).split(separator: "\n").count
        #expect(journalLines == 1 + 5)
        let loaded = try FileStateStore(path: path, readOnly: true).loadSummary
        #expect(loaded.snapshotRecords == 20)
        #expect(loaded.journalRecords == 5)
        let reopened = try FileStateStore(path: path)
        #expect(reopened.count == 25)
        #expect(!FileManager.default.fileExists(atPath: path + ".tmp"))
    }

    @Test("State: the Python forwarder's version-1 file is imported in place and kept as a backup")
    func versionOneImport() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("sfm_forwarded.json")
        let first = record(1)
        let second = record(2)
        let json = """
            {
              "forwarded": {
                "\(first.digest.hex)": {"filename": "\(first.fileName)", "size": 4400, "forwarded_at": "2026-05-08T10:11:12.345678Z"},
                "\(second.digest.hex)": {"filename": "\(second.fileName)", "size": 12, "forwarded_at": "2026-05-08T10:11:13Z", "had_report": false}
              },
              "version": 1
            }
            """
        try Data(json.utf8).write(to: URL(fileURLWithPath: path))
        do {
            let store = try FileStateStore(path: path)
            #expect(store.loadSummary.importedVersionOneRecords == 2)
            let imported = try #require(store.record(for: first.digest))
            #expect(imported.fileName == first.fileName)
            #expect(imported.byteCount == 4400)
            #expect(imported.hadReport, "entries without had_report count as sent with their report")
            #expect(imported.fingerprint == nil)
            #expect(imported.forwardedAt.description == "2026-05-08T10:11:12.345Z")
            #expect(store.record(for: second.digest)?.hadReport == false)
        }
        #expect(try String(contentsOfFile: path + ".v1-backup", encoding: .utf8) == json)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)).starts(with: Array(BinaryStateSnapshot.headerLine.utf8)))
        #expect(try FileStateStore(path: path).count == 2)
    }

    @Test("State: a JSON state of another version is refused, not started afresh")
    func wrongVersion() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("sfm_forwarded.json")
        try Data(#"{"version": 2, "forwarded": {}}"#.utf8).write(to: URL(fileURLWithPath: path))
        #expect {
            try FileStateStore(path: path)
        } throws: { error in
            guard case .unsupportedVersion = (error as? StateFileError)?.kind else { return false }
            return true
        }
    }

    @Test("State: a second forwarder cannot open a state in use; status can read it")
    func locking() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("state")
        let store = try FileStateStore(path: path)
        try store.record(record(1))
        #expect {
            try FileStateStore(path: path)
        } throws: { error in
            (error as? StateFileError)?.kind == .lockedByAnotherProcess
        }
        let reader = try FileStateStore(path: path, readOnly: true)
        #expect(reader.count == 1)
        #expect(throws: StateFileError.self) { try reader.record(record(2)) }
    }

    @Test("State: a state whose folder is missing is an error naming the path")
    func missingFolder() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("nope/state")
        #expect {
            try FileStateStore(path: path)
        } throws: { error in
            (error as? StateFileError)?.kind == .unwritable && "\(error)".contains(path)
        }
    }
}
