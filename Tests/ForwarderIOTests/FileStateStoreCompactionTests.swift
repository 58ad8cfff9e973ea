import ForwarderCore
@testable import ForwarderIO
import Foundation
import Testing

/// Compaction's order of steps, seen through a snapshot that cannot be written.
///
/// Killed mutant `store-compaction-order` (scripts/mutants.json): emptying the journal before the
/// new snapshot is in place loses every journalled record when the snapshot write fails.
extension FileStateStoreTests {
    @Test("State: a compaction whose snapshot cannot be written keeps every record in the journal")
    func failedCompactionLosesNothing() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("state")
        do {
            let store = try FileStateStore(path: path, compactionMinimum: 5)
            for index in 0..<3 {
                try store.record(record(index))
                try store.sync()
            }
            // The snapshot's temporary file is a folder: the atomic write of the snapshot fails.
            try FileManager.default.createDirectory(atPath: path + ".tmp", withIntermediateDirectories: false)
            for index in 3..<5 { try store.record(record(index)) }
            #expect(throws: StateFileError.self) { try store.sync() }
        }
        try FileManager.default.removeItem(atPath: path + ".tmp")
        let reopened = try FileStateStore(path: path, readOnly: true)
        #expect(reopened.count == 5, "the records journalled before the failed compaction")
        #expect(reopened.loadSummary.journalRecords == 5)
        for index in 0..<5 { #expect(reopened.record(for: record(index).digest) == record(index)) }
    }
}
