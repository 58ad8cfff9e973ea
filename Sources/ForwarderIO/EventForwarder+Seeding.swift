import ForwarderCore
import Foundation

extension EventForwarder {
    /// Marks every in-window event binary as accepted without uploading anything.
    ///
    /// For a first deploy beside a large archive: only events that appear afterwards are sent.
    /// Seeded binaries count as sent with their report, so a report never triggers a re-send.
    /// Files are read and hashed on every core, a run of files per task with a few runs ahead,
    /// so memory stays bounded; each run is recorded in listing order as soon as the runs
    /// before it are, so recording overlaps hashing instead of waiting for the last file.
    public func seedState(progress: @escaping @Sendable (_ done: Int, _ total: Int) -> Void = { _, _ in }) async throws
        -> SeedReport {
        let now = clock.now()
        let entries = try folder.listEntries()
        let binaries = entries.indices.filter { position in
            entries.kind(at: position) == .regularFile && entries.withName(at: position) { EventFileRules.isEventBinary(utf8: $0) }
        }.map { entries[$0] }
        var report = SeedReport()
        report.eventBinaries = binaries.count
        var toHash: [FolderEntry] = []
        for binary in binaries {
            if policy.isTooOld(binary, now: now) {
                report.skippedTooOld += 1
            } else if let digest = cache.digest(for: binary), store.record(for: digest) != nil {
                report.alreadyKnown += 1
            } else {
                toHash.append(binary)
            }
        }
        let alreadyDone = binaries.count - toHash.count
        progress(alreadyDone, binaries.count)
        // Records go to the store in batches, one journal write each; identical bytes under two
        // names within a batch are seeded once, as they would be one record at a time.
        var batch: [ForwardRecord] = []
        var batchDigests: Set<EventDigest> = []
        try await Self.hashInListingOrder(toHash, in: folder) { firstIndex, outcomes in
            for (offset, outcome) in outcomes.enumerated() {
                let binary = toHash[firstIndex + offset]
                switch outcome {
                case .failure(let error):
                    report.unreadable += 1
                    logger.warning("cannot read for seeding", metadata: ["event.name": "\(binary.name)", "error": "\(error)"])
                case .success(let (digest, byteCount)):
                    report.hashedBytes += Int64(byteCount)
                    cache.remember(digest, for: binary)
                    if batchDigests.contains(digest) {
                        report.alreadyKnown += 1
                        continue
                    }
                    if let known = store.record(for: digest) {
                        report.alreadyKnown += 1
                        try rememberFingerprint(of: binary, in: known)
                        continue
                    }
                    batch.append(ForwardRecord(digest: digest, fileName: binary.name, byteCount: Int64(byteCount),
                                               hadReport: true, forwardedAt: now, fingerprint: binary.fingerprint))
                    batchDigests.insert(digest)
                    report.seeded += 1
                    if batch.count == Self.seedBatchSize {
                        try store.record(contentsOf: batch)
                        batch.removeAll(keepingCapacity: true)
                        batchDigests.removeAll(keepingCapacity: true)
                    }
                }
            }
            progress(alreadyDone + firstIndex + outcomes.count, binaries.count)
        }
        try store.record(contentsOf: batch)
        try store.sync()
        return report
    }

    /// Records seeded per journal write: one write per record was a tenth of seeding's time.
    static let seedBatchSize = 512

    /// Files read and hashed by one task: enough to amortise a task, few enough to keep every core busy.
    static let seedRunLength = 64

    /// Reads and hashes `entries` on every core and hands each run of results to `record` in
    /// the entries' order, with the index of the run's first entry.
    ///
    /// At most two runs per core are in flight, so a slow file holds back recording by a few
    /// runs at most, not the whole folder's results. `record` runs on the caller's actor.
    static func hashInListingOrder(_ entries: [FolderEntry], in folder: any EventFolder,
                                   isolation: isolated (any Actor)? = #isolation,
                                   record: (_ firstIndex: Int, _ outcomes: [Result<(EventDigest, Int), FolderError>]) throws -> Void)
        async throws {
        let runStarts = Array(stride(from: 0, to: entries.count, by: seedRunLength))
        let runsInFlight = 2 * max(1, ProcessInfo.processInfo.activeProcessorCount)
        try await withThrowingTaskGroup(of: (Int, [Result<(EventDigest, Int), FolderError>]).self) { group in
            func hashRun(_ run: Int) {
                let range = runStarts[run]..<min(runStarts[run] + seedRunLength, entries.count)
                group.addTask { (run, range.map { hashFile(entries[$0], in: folder) }) }
            }
            var nextToStart = 0
            while nextToStart < min(runsInFlight, runStarts.count) {
                hashRun(nextToStart)
                nextToStart += 1
            }
            var finished: [Int: [Result<(EventDigest, Int), FolderError>]] = [:]
            var nextToRecord = 0
            while let (run, outcomes) = try await group.next() {
                finished[run] = outcomes
                while let ready = finished.removeValue(forKey: nextToRecord) {
                    try record(runStarts[nextToRecord], ready)
                    nextToRecord += 1
                }
                if nextToStart < runStarts.count {
                    hashRun(nextToStart)
                    nextToStart += 1
                }
            }
        }
    }

    /// One file's digest and size, or why it could not be read.
    private static func hashFile(_ entry: FolderEntry, in folder: any EventFolder) -> Result<(EventDigest, Int), FolderError> {
        do {
            let bytes = try folder.readContents(of: entry.name)
            return .success((EventDigest(of: bytes), bytes.count))
        } catch let error as FolderError {
            return .failure(error)
        } catch {
            return .failure(FolderError(kind: .other(code: 0), path: entry.name, detail: "\(error)"))
        }
    }
}
