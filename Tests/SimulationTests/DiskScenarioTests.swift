import ForwarderCore
import ForwarderSimulation
import Foundation
import Testing

/// A state that cannot be written (a full or read-only disk), in the simulated world: the store
/// refuses every write and sync for a window of passes, as `FileStateStore` does on a full disk.
///
/// The checkers run after every pass as in every scenario; these tests add what the disk rule
/// promises: nothing starts while the state cannot be written, and nothing is sent twice after.
@Suite("Disk scenarios")
struct DiskScenarioTests {
    /// A backlog sent 40 a pass, four in flight, with the disk full from pass 2 to pass 5.
    static func fullDisk(seed: UInt64, crashDuringPasses: Set<Int> = []) -> SimulationScenario {
        var scenario = SimulationScenario(seed: seed, eventCount: 300, folderMode: .backlog,
                                          policy: ScanPolicy(forwardsPerPassLimit: 40),
                                          crashDuringPasses: crashDuringPasses, uploadConcurrency: 4)
        scenario.stateUnwritableDuringPasses = 2...5
        return scenario
    }

    @Test("Disk: while the state cannot be written no upload starts beyond those in flight; after, everything arrives exactly once")
    func fullDiskWindow() async throws {
        let result = try await simulate(Self.fullDisk(seed: 1313))
        let passes = result.passes
        #expect(passes[0].uploadsAttempted == 40 && passes[0].stateUnwritable == nil)
        #expect((1...4).contains(passes[1].uploadsAttempted),
                "the pass the disk fills in starts four uploads at most: those in flight when the write failed")
        #expect(passes[1].stateUnwritable?.contains("No space left on device") == true)
        for pass in passes[2...4] {
            #expect(pass.uploadsAttempted == 0, "nothing starts while the state cannot be written")
            #expect(pass.stateUnwritable != nil)
            #expect((pass.skips[.stateUnwritable] ?? 0) > 0)
        }
        #expect(passes[5].stateUnwritable == nil && passes[5].uploadsAttempted == 40, "it resumes by itself")
        let perEvent = Dictionary(grouping: result.uploads, by: \.binaryName)
        #expect(perEvent.values.allSatisfy { $0.count == 1 },
                "the acceptances kept in memory were written later, not sent again: \(perEvent.filter { $0.value.count > 1 }.keys.sorted())")
        #expect(result.mockStats.inserted == result.uploads.count)
        #expect(result.lostToCrashes == 0)
    }

    @Test("Disk: the simulated store fails as the file store does: the refused record is kept and visible, later ones wait, the next sync that succeeds writes them, a crash loses them")
    func simulatedStoreFailsLikeTheFileStore() throws {
        let store = SimStateStore()
        let records = (0..<3).map { index in
            ForwardRecord(digest: EventDigest(of: Array("event \(index)".utf8)), fileName: "N844L20\(index).630H", byteCount: 10,
                          hadReport: true, forwardedAt: FileTime(secondsSince1970: 1_000), fingerprint: nil)
        }
        try store.record(records[0])
        try store.sync()
        store.failWrites("write failed: No space left on device")
        #expect(throws: StateFileError.self) { try store.record(records[1]) }
        #expect(store.record(for: records[1].digest) == records[1], "kept and visible, so it is not sent again")
        #expect(store.writeFailure != nil)
        store.failWrites(nil)
        #expect(throws: StateFileError.self, "a later record waits behind the refused one") { try store.record(records[2]) }
        try store.sync()
        #expect(store.writeFailure == nil && store.count == 3)
        #expect(store.crash() == 0, "the sync made them durable")

        store.failWrites("write failed: Read-only file system")
        let lost = ForwardRecord(digest: EventDigest(of: Array("lost".utf8)), fileName: "N844L20L.630H", byteCount: 10,
                                 hadReport: true, forwardedAt: FileTime(secondsSince1970: 1_000), fingerprint: nil)
        #expect(throws: StateFileError.self) { try store.record(lost) }
        #expect(throws: StateFileError.self) { try store.sync() }
        #expect(store.crash() == 1, "a crash before a sync succeeds loses what waited")
        #expect(store.record(for: lost.digest) == nil && store.count == 3)
    }

    @Test("Disk: a crash while the state cannot be written costs at most the uploads that were in flight")
    func crashWhileFull() async throws {
        let result = try await simulate(Self.fullDisk(seed: 1314, crashDuringPasses: [4]))
        let inFlightWhenFull = result.passes[1].uploadsAttempted
        #expect(result.passes[2...3].allSatisfy { $0.uploadsAttempted == 0 })
        // The restarted process learns of the full disk at its first write, with up to four in flight.
        #expect((1...4).contains(result.passes[4].uploadsAttempted) && result.passes[4].stateUnwritable != nil)
        #expect(result.passes[5].stateUnwritable == nil)
        let sentAgain = Dictionary(grouping: result.uploads, by: \.binaryName).values.filter { $0.count > 1 }
        #expect(result.lostToCrashes > 0, "the acceptances kept in memory died with the process")
        #expect(sentAgain.count <= inFlightWhenFull && sentAgain.allSatisfy { $0.count == 2 },
                "\(sentAgain.count) events sent again, \(inFlightWhenFull) were in flight when the disk filled")
    }
}
