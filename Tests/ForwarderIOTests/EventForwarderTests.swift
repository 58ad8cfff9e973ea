import ForwarderCore
import ForwarderIO
import Foundation
import Synchronization
import Testing

/// Given a real folder and state on disk, when passes run, then the right uploads happen.
final class ForwarderWorld: @unchecked Sendable {
    let folder: TemporaryFolder
    let clock = ManualClock()
    let uploader: RecordingUploader
    var policy = ScanPolicy()
    private(set) var store: FileStateStore?
    private(set) var counting: CountingFolder?

    init(answer: @escaping @Sendable (ImportRequest) -> UploadOutcome = RecordingUploader.acceptAll) throws {
        folder = try TemporaryFolder("forwarder-world")
        try FileManager.default.createDirectory(atPath: folder.file("ach"), withIntermediateDirectories: true)
        uploader = RecordingUploader(answer: answer)
    }

    var statePath: String { folder.file("state") }

    /// An event binary (and, if asked, its ACH report) written `ageSeconds` ago.
    func event(_ index: Int, ageSeconds: Double, report: Bool = true, kind: BlastwareEventName.Kind = .waveform) throws {
        let name = eventName(index, kind: kind)
        try write(name, eventBytes(index), ageSeconds: ageSeconds)
        if report { try write(achReportName(name), Data("\"Serial Number : BE12844\"\r\n".utf8), ageSeconds: ageSeconds) }
    }

    func write(_ name: String, _ contents: Data, ageSeconds: Double) throws {
        try folder.write("ach/" + name, contents, ageSeconds: ageSeconds, now: clock.now())
    }

    /// A forwarder as after a fresh start: state reopened from disk, empty digest cache.
    func restartedForwarder(dryRun: Bool = false) throws -> EventForwarder {
        try store?.close()
        let store = try FileStateStore(path: statePath)
        self.store = store
        let counting = CountingFolder(LocalEventFolder(path: folder.file("ach")))
        self.counting = counting
        return EventForwarder(folder: counting, uploader: uploader, store: store, clock: clock, policy: policy,
                              dryRun: dryRun, logger: quietLogger)
    }

    var uploadedNames: [String] { uploader.requests.map(\.binary.name) }
}

@Suite("Event forwarder")
struct EventForwarderTests {
    @Test("Backfill: cap of N advances oldest first across passes")
    func capOldestFirst() async throws {
        let world = try ForwarderWorld()
        world.policy.forwardsPerPassLimit = 3
        for index in 0..<7 { try world.event(index, ageSeconds: Double(10_000 - index * 100)) }
        let forwarder = try world.restartedForwarder()
        let first = try await forwarder.runPass()
        #expect(world.uploadedNames == (0..<3).map { eventName($0) })
        #expect(first.forwarded == 3)
        #expect(first.skips[.passLimitReached] == 4)
        _ = try await forwarder.runPass()
        let third = try await forwarder.runPass()
        #expect(world.uploadedNames == (0..<7).map { eventName($0) })
        #expect(third.forwarded == 1)
    }

    @Test("Backfill: a cap of 0 (unlimited) sends everything in one pass")
    func unlimited() async throws {
        let world = try ForwarderWorld()
        world.policy.forwardsPerPassLimit = nil
        for index in 0..<20 { try world.event(index, ageSeconds: 1000) }
        let report = try await world.restartedForwarder().runPass()
        #expect(report.forwarded == 20)
        #expect(report.forwardedWithReport == 20)
        #expect(Set(world.uploadedNames).count == 20)
    }

    @Test("Idempotency: a steady pass and a restart upload nothing and read no contents")
    func steadyPassReadsNothing() async throws {
        let world = try ForwarderWorld()
        for index in 0..<10 { try world.event(index, ageSeconds: 1000) }
        let forwarder = try world.restartedForwarder()
        _ = try await forwarder.runPass()
        #expect(world.uploader.requests.count == 10)
        let steady = try await forwarder.runPass()
        #expect(steady.skips[.alreadyForwarded] == 10)
        #expect(world.uploader.requests.count == 10)

        let restarted = try world.restartedForwarder()
        let afterRestart = try await restarted.runPass()
        #expect(world.uploader.requests.count == 10)
        #expect(afterRestart.skips[.alreadyForwarded] == 10)
        #expect(world.counting?.readNames == [], "a pass over a forwarded folder reads no file contents")
    }

    @Test("Idempotency: the digest recorded is that of the bytes uploaded")
    func digestOfUploadedBytes() async throws {
        let world = try ForwarderWorld()
        try world.event(1, ageSeconds: 1000)
        _ = try await world.restartedForwarder().runPass()
        let request = try #require(world.uploader.requests.first)
        let record = try #require(world.store?.record(for: EventDigest(of: request.binary.contents)))
        #expect(record.fileName == eventName(1))
        #expect(record.hadReport)
        #expect(record.byteCount == Int64(request.binary.contents.count))
    }

    @Test("Idempotency: identical bytes under two names are uploaded once")
    func identicalBytes() async throws {
        let world = try ForwarderWorld()
        try world.write(eventName(1), eventBytes(42), ageSeconds: 2000)
        try world.write(eventName(2), eventBytes(42), ageSeconds: 1000)
        let report = try await world.restartedForwarder().runPass()
        #expect(world.uploadedNames == [eventName(1)])
        #expect(report.skips[.alreadyForwarded] == 1)
    }

    @Test("Late report: a binary sent alone is re-sent with its report when the report appears")
    func lateReport() async throws {
        let world = try ForwarderWorld()
        try world.event(1, ageSeconds: 120, report: false)
        let forwarder = try world.restartedForwarder()
        let alone = try await forwarder.runPass()
        #expect(alone.forwarded == 1)
        #expect(alone.forwardedWithReport == 0)
        #expect(world.store?.allRecords().first?.hadReport == false)

        try world.write(achReportName(eventName(1)), Data("late".utf8), ageSeconds: 10)
        let resent = try await forwarder.runPass()
        #expect(resent.lateReportsResent == 1)
        #expect(world.uploader.requests.last?.report?.name == achReportName(eventName(1)))
        #expect(world.store?.allRecords().first?.hadReport == true)
        let steady = try await forwarder.runPass()
        #expect(steady.uploadsAttempted == 0)
        #expect(world.uploader.requests.count == 2)
    }

    @Test("Grace: a binary waits for its report, then goes alone after 60 s")
    func graceThenAlone() async throws {
        let world = try ForwarderWorld()
        try world.event(1, ageSeconds: 30, report: false)
        let forwarder = try world.restartedForwarder()
        let early = try await forwarder.runPass()
        #expect(early.skips[.awaitingReport] == 1)
        #expect(world.uploader.requests.isEmpty)
        world.clock.advance(by: .seconds(31))
        _ = try await forwarder.runPass()
        #expect(world.uploader.requests.count == 1)
        #expect(world.uploader.requests.first?.report == nil)
    }

    @Test("Upload: rejected and failed uploads are not recorded; each backs off, then is tried again")
    func notRecordedOnFailure() async throws {
        let world = try ForwarderWorld(answer: { request in
            request.binary.name == eventName(1)
                ? .rejected(UploadProblem(kind: .fileError, detail: "bad"))
                : .failed(UploadProblem(kind: .transport, detail: "reset"))
        })
        try world.event(1, ageSeconds: 1000)
        try world.event(2, ageSeconds: 1000)
        let forwarder = try world.restartedForwarder()
        let report = try await forwarder.runPass()
        #expect(report.rejected == 1)
        #expect(report.failed == 1)
        #expect(world.store?.count == 0)
        let rejected = try #require(world.store?.attempts(forName: eventName(1)))
        let failed = try #require(world.store?.attempts(forName: eventName(2)))
        #expect((rejected.failures, rejected.rejections, failed.failures, failed.rejections) == (1, 1, 1, 0))
        #expect(rejected.nextAttemptAt > world.clock.now() && failed.nextAttemptAt > world.clock.now())
        let waiting = try await forwarder.runPass()
        #expect(waiting.skips[.backingOff] == 2)
        #expect(world.uploader.requests.count == 2)
        world.clock.advance(by: RetryPolicy().baseDelay)
        _ = try await forwarder.runPass()
        #expect(world.uploader.requests.count == 4)
    }

    @Test("Upload: the serial hint and the report travel with the binary")
    func requestContents() async throws {
        let world = try ForwarderWorld()
        try world.event(1, ageSeconds: 1000)
        let store = try FileStateStore(path: world.statePath)
        let forwarder = EventForwarder(folder: LocalEventFolder(path: world.folder.file("ach")), uploader: world.uploader,
                                       store: store, clock: world.clock, policy: world.policy, serialHint: "BE12844",
                                       logger: quietLogger)
        _ = try await forwarder.runPass()
        let request = try #require(world.uploader.requests.first)
        #expect(request.serialHint == "BE12844")
        #expect(request.binary.contents == eventBytes(1))
        #expect(request.report?.contents == Data("\"Serial Number : BE12844\"\r\n".utf8))
    }

    @Test("Dry run: plans without uploading or recording")
    func dryRun() async throws {
        let world = try ForwarderWorld()
        try world.event(1, ageSeconds: 1000)
        let report = try await world.restartedForwarder(dryRun: true).runPass()
        #expect(report.pending == 1)
        #expect(world.uploader.requests.isEmpty)
        #expect(world.store?.count == 0)
    }

    @Test("Seed-state: in-window binaries are marked without uploading; old ones are skipped; re-running is idempotent")
    func seedState() async throws {
        let world = try ForwarderWorld()
        world.policy.maximumEventAge = .seconds(86_400)
        for index in 0..<5 { try world.event(index, ageSeconds: 1000) }
        try world.event(9, ageSeconds: 90_000)
        let seeded = try await world.restartedForwarder().seedState()
        #expect(seeded.eventBinaries == 6)
        #expect(seeded.seeded == 5)
        #expect(seeded.skippedTooOld == 1)
        #expect(world.uploader.requests.isEmpty)

        let again = try await world.restartedForwarder().seedState()
        #expect(again.seeded == 0)
        #expect(again.alreadyKnown == 5)
        #expect(world.counting?.readNames == [], "a re-run knows the files from their fingerprints")

        try world.event(5, ageSeconds: 100)
        let pass = try await world.restartedForwarder().runPass()
        #expect(world.uploadedNames == [eventName(5)], "nothing seeded is re-sent, new events are")
        #expect(pass.skips[.alreadyForwarded] == 5)
        #expect(pass.skips[.tooOld] == 1)
    }

    @Test("State: a version-1 state is imported without re-uploading, and hashed once only")
    func versionOneThenPass() async throws {
        let world = try ForwarderWorld()
        var entries: [String] = []
        for index in 0..<4 {
            try world.event(index, ageSeconds: 1000)
            let digest = EventDigest(of: eventBytes(index))
            entries.append("\"\(digest.hex)\": {\"filename\": \"\(eventName(index))\", \"size\": 3000, \"forwarded_at\": \"2026-05-08T10:11:12Z\"}")
        }
        try Data("{\"version\": 1, \"forwarded\": {\(entries.joined(separator: ","))}}".utf8)
            .write(to: URL(fileURLWithPath: world.statePath))
        let first = try await world.restartedForwarder().runPass()
        #expect(world.uploader.requests.isEmpty)
        #expect(first.skips[.alreadyForwarded] == 4)
        _ = try await world.restartedForwarder().runPass()
        #expect(world.counting?.readNames == [], "fingerprints learnt on the first pass survive a restart")
    }

    @Test("Quiescence: a file that grows between listing and reading waits for the next pass")
    func changedWhileReading() async throws {
        let world = try ForwarderWorld()
        try world.event(1, ageSeconds: 1000)
        let store = try FileStateStore(path: world.statePath)
        let growing = GrowingFolder(inner: LocalEventFolder(path: world.folder.file("ach")), growing: eventName(1))
        let forwarder = EventForwarder(folder: growing, uploader: world.uploader, store: store, clock: world.clock,
                                       policy: world.policy, logger: quietLogger)
        let report = try await forwarder.runPass()
        #expect(report.skips[.changedWhileReading] == 1)
        #expect(world.uploader.requests.isEmpty)
    }

    @Test("Shutdown: a requested stop ends the pass before the next upload and keeps what was done")
    func stopBetweenUploads() async throws {
        let world = try ForwarderWorld()
        for index in 0..<5 { try world.event(index, ageSeconds: 1000) }
        let forwarder = try world.restartedForwarder()
        await forwarder.requestStop()
        let report = try await forwarder.runPass()
        #expect(report.interrupted)
        #expect(world.uploader.requests.isEmpty)
    }
}

/// A folder whose one file reads back longer than it was listed, as when Blastware is still writing.
struct GrowingFolder: EventFolder {
    let inner: LocalEventFolder
    let growing: String

    var location: String { inner.location }

    func listEntries() throws -> FolderListing { try inner.listEntries() }

    func readContents(of name: String) throws -> Data {
        let contents = try inner.readContents(of: name)
        return name == growing ? contents + Data([0]) : contents
    }
}

/// An uploader that holds each upload for a moment and remembers how many overlapped.
final class SlowUploader: EventUploader {
    private let state = Mutex((inFlight: 0, peak: 0, started: [String]()))

    var peak: Int { state.withLock { $0.peak } }
    var started: [String] { state.withLock { $0.started } }

    func upload(_ request: ImportRequest) async -> UploadOutcome {
        state.withLock { state in
            state.inFlight += 1
            state.peak = max(state.peak, state.inFlight)
            state.started.append(request.binary.name)
        }
        try? await Task.sleep(for: .milliseconds(20))
        state.withLock { $0.inFlight -= 1 }
        return RecordingUploader.acceptAll(request)
    }
}

@Suite("Concurrent uploads")
struct ConcurrentUploadTests {
    @Test("Concurrency: at most N uploads in flight, started oldest first, all recorded, cap respected")
    func concurrentUploads() async throws {
        let world = try ForwarderWorld()
        world.policy.forwardsPerPassLimit = 10
        for index in 0..<14 { try world.event(index, ageSeconds: Double(5000 - index * 10)) }
        let store = try FileStateStore(path: world.statePath)
        let uploader = SlowUploader()
        let forwarder = EventForwarder(folder: LocalEventFolder(path: world.folder.file("ach")), uploader: uploader,
                                       store: store, clock: world.clock, policy: world.policy, uploadConcurrency: 4,
                                       logger: quietLogger)
        let report = try await forwarder.runPass()
        #expect(uploader.peak == 4)
        #expect(uploader.started == (0..<10).map { eventName($0) })
        #expect(report.forwarded == 10)
        #expect(store.count == 10)
        #expect(report.skips[.passLimitReached] == 4)
    }

    @Test("Concurrency: identical bytes in one window are uploaded once")
    func sameContentInFlight() async throws {
        let world = try ForwarderWorld()
        try world.write(eventName(1), eventBytes(7), ageSeconds: 2000)
        try world.write(eventName(2), eventBytes(7), ageSeconds: 1999)
        let store = try FileStateStore(path: world.statePath)
        let uploader = SlowUploader()
        let forwarder = EventForwarder(folder: LocalEventFolder(path: world.folder.file("ach")), uploader: uploader,
                                       store: store, clock: world.clock, policy: world.policy, uploadConcurrency: 4,
                                       logger: quietLogger)
        let report = try await forwarder.runPass()
        #expect(uploader.started == [eventName(1)])
        #expect(report.skips[.sameContentInFlight] == 1)
    }

    @Test("Seed-state: hashing on every core gives the digests a single thread would")
    func parallelSeedDigests() async throws {
        let world = try ForwarderWorld()
        for index in 0..<40 { try world.event(index, ageSeconds: 1000, report: false) }
        let report = try await world.restartedForwarder().seedState()
        #expect(report.seeded == 40)
        for index in 0..<40 {
            #expect(world.store?.record(for: EventDigest(of: eventBytes(index)))?.fileName == eventName(index))
        }
    }

    @Test("Seed-state: files hashed in runs on every core are recorded in listing order, a copy in a later run once, progress rising to the total")
    func seedInListingOrder() async throws {
        let world = try ForwarderWorld()
        for index in 0..<300 { try world.event(index, ageSeconds: 1000, report: false) }
        try world.write(eventName(300), eventBytes(3), ageSeconds: 1000)
        let progressSeen = Mutex<[Int]>([])
        let report = try await world.restartedForwarder().seedState { done, total in
            #expect(total == 301)
            progressSeen.withLock { $0.append(done) }
        }
        #expect(report.seeded == 300)
        #expect(report.alreadyKnown == 1)
        let progress = progressSeen.withLock { $0 }
        #expect(progress == progress.sorted())
        #expect(progress.last == 301)

        let listed = try LocalEventFolder(path: world.folder.file("ach")).listEntries().map(\.name)
        let copies = [eventName(3), eventName(300)].sorted { listed.firstIndex(of: $0)! < listed.firstIndex(of: $1)! }
        let expectedOrder = listed.filter { $0 != copies[1] }
        let journal = try String(contentsOfFile: world.statePath + ".journal", encoding: .utf8)
        let recordedOrder = journal.split(separator: "\n").compactMap { line in expectedOrder.first { line.contains($0) } }
        #expect(recordedOrder == expectedOrder)
    }
}
