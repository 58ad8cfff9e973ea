import ForwarderCore
import Foundation
import Synchronization

extension EventForwarder {
    /// Marks every in-window event binary as accepted without uploading anything.
    ///
    /// For a first deploy beside a large archive: only events that appear afterwards are sent.
    /// Seeded binaries count as sent with their report, so a report never triggers a re-send.
    /// Files are read and hashed on every core, one file per core at a time, so memory stays
    /// bounded; records are then written in listing order.
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
        let hashed = await Self.hashConcurrently(toHash, in: folder) { done in
            progress(alreadyDone + done, binaries.count)
        }
        // Records go to the store in batches, one journal write each; identical bytes under two
        // names within a batch are seeded once, as they would be one record at a time.
        var batch: [ForwardRecord] = []
        var batchDigests: Set<EventDigest> = []
        for (binary, outcome) in zip(toHash, hashed) {
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
        try store.record(contentsOf: batch)
        try store.sync()
        return report
    }

    /// Records seeded per journal write: one write per record was a tenth of seeding's time.
    static let seedBatchSize = 512

    /// Reads and hashes `entries` on every core; results come back in the entries' order.
    static func hashConcurrently(_ entries: [FolderEntry], in folder: any EventFolder,
                                 progress: @escaping @Sendable (Int) -> Void) async
        -> [Result<(EventDigest, Int), FolderError>] {
        let workerCount = max(1, min(ProcessInfo.processInfo.activeProcessorCount, entries.count))
        let done = SharedCounter()
        return await withTaskGroup(of: [(Int, Result<(EventDigest, Int), FolderError>)].self) { group in
            for worker in 0..<workerCount {
                group.addTask {
                    var results: [(Int, Result<(EventDigest, Int), FolderError>)] = []
                    for index in stride(from: worker, to: entries.count, by: workerCount) {
                        do {
                            let bytes = try folder.readContents(of: entries[index].name)
                            results.append((index, .success((EventDigest(of: bytes), bytes.count))))
                        } catch let error as FolderError {
                            results.append((index, .failure(error)))
                        } catch {
                            results.append((index, .failure(FolderError(kind: .other(code: 0), path: entries[index].name,
                                                                        detail: "\(error)"))))
                        }
                        let count = done.increment()
                        if count % 256 == 0 || count == entries.count { progress(count) }
                    }
                    return results
                }
            }
            var ordered = [Result<(EventDigest, Int), FolderError>?](repeating: nil, count: entries.count)
            for await results in group {
                for (index, result) in results { ordered[index] = result }
            }
            return ordered.map { $0! }
        }
    }
}

/// A count shared by concurrent tasks.
final class SharedCounter: Sendable {
    private let value = Mutex(0)

    /// Adds one and returns the new count.
    func increment() -> Int {
        value.withLock { count in
            count += 1
            return count
        }
    }
}
