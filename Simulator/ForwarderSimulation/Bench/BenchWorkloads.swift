import ForwarderCore
import ForwarderIO
import Foundation
import Logging

/// A generated history-mode folder for benchmarks, with the truth about its events.
public struct BenchFolder: Sendable {
    public let path: String
    public let seed: UInt64
    public let periodStart: FileTime
    public let manifest: [ManifestEntry]
    public let summary: GenerationSummary

    /// Writes `eventCount` events of the `mixed` profile into `path`, ending shortly before `now`.
    public static func generate(into path: String, eventCount: Int, seed: UInt64,
                                now: FileTime = FileTime(Date())) throws -> BenchFolder {
        let options = FolderGenerationOptions(seed: seed, profile: .mixed, eventCount: eventCount, startTime: now)
        let plan = FolderPlanner.plan(options, endingAt: now - .seconds(120))
        let (summary, manifest) = try DirectoryFolderWriter(directoryPath: path).writeHistory(plan)
        return BenchFolder(path: path, seed: seed, periodStart: plan.periodStart, manifest: manifest, summary: summary)
    }

    /// Writes the binaries' names, NUL-separated, for `xargs -0` run inside the folder.
    public func writeBinaryList(to listPath: String) throws {
        var bytes = Data()
        for entry in manifest {
            bytes.append(contentsOf: Array(entry.binary.utf8))
            bytes.append(0)
        }
        try bytes.write(to: URL(fileURLWithPath: listPath))
    }

    /// Deletes every report of every event except each `keepEvery`-th, so that most binaries
    /// lack a report; returns how many files it removed. Deterministic: no randomness involved.
    @discardableResult
    public func removeReports(keepingEvery keepEvery: Int) throws -> Int {
        var doomed = Set<String>()
        for (index, entry) in manifest.enumerated() where index % keepEvery != 0 {
            doomed.formUnion(entry.reportsWritten)
        }
        var removed = 0
        for entry in try LocalEventFolder(path: path).listEntries()
        where entry.kind == .regularFile && doomed.contains(entry.name) {
            guard unlink((path as NSString).appendingPathComponent(entry.name)) == 0 else {
                throw FolderWriteError(path: entry.name, operation: "unlink", code: errno)
            }
            removed += 1
        }
        return removed
    }
}

/// The forwarder operations the benchmarks and `forwarder-sim bench` time, run in process.
///
/// Each returns the time of exactly the operation (not of preparing it), measured with
/// `ContinuousClock`, so callers can take medians of repeated runs.
public enum BenchWorkloads {
    /// No upload cap and an age window wide enough for any generated history.
    public static let policy = ScanPolicy(quiescencePeriod: .seconds(5), reportGracePeriod: .seconds(60),
                                          maximumEventAge: .seconds(100 * 365 * 86_400), forwardsPerPassLimit: nil)

    /// A logger that drops everything, so that logging does not count as forwarder work.
    public static func quietLogger() -> Logger {
        Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
    }

    /// Deletes a state file and everything beside it that a run leaves (journal, last pass).
    public static func removeState(at statePath: String) {
        for suffix in ["", ".journal", ".last-pass.json", ".v1-backup"] {
            unlink(statePath + suffix)
        }
    }

    /// `seed-state` into a fresh state: list, read and hash every binary, record, sync, close.
    public static func seedState(folder: String, statePath: String) async throws -> (report: SeedReport, elapsed: Duration) {
        removeState(at: statePath)
        let started = ContinuousClock.now
        let store = try FileStateStore(path: statePath)
        let forwarder = EventForwarder(folder: LocalEventFolder(path: folder), uploader: RefusingUploader(),
                                       store: store, clock: SystemClock(), policy: policy, logger: quietLogger())
        let report = try await forwarder.seedState()
        try store.close()
        return (report, ContinuousClock.now - started)
    }

    /// A forwarder over `folder` with the state at `statePath` loaded (the load is not timed).
    public static func openForwarder(folder: String, statePath: String, uploader: any EventUploader = RefusingUploader(),
                                     dryRun: Bool = false) throws -> (forwarder: EventForwarder, store: FileStateStore) {
        let store = try FileStateStore(path: statePath)
        let forwarder = EventForwarder(folder: LocalEventFolder(path: folder), uploader: uploader, store: store,
                                       clock: SystemClock(), policy: policy, dryRun: dryRun,
                                       uploadConcurrency: ForwarderSettings.defaultUploadConcurrency, logger: quietLogger())
        return (forwarder, store)
    }

    /// One pass of `forwarder`, timed.
    public static func timedPass(_ forwarder: EventForwarder) async throws -> (report: PassReport, elapsed: Duration) {
        let started = ContinuousClock.now
        let report = try await forwarder.runPass()
        return (report, ContinuousClock.now - started)
    }

    /// `recordCount` synthetic records (seeded digests, plausible names and fingerprints), as a
    /// forwarder would hold after forwarding that many events.
    public static func syntheticRecords(count recordCount: Int, seed: UInt64) -> [ForwardRecord] {
        var random = SeededRandom(seed: seed)
        let forwardedAt = FileTime(secondsSince1970: 1_790_000_000)
        return (0..<recordCount).compactMap { index in
            let hex = (0..<4).map { _ in hexWord(random.next()) }.joined()
            guard let digest = EventDigest(hex: hex) else { return nil }
            let fingerprint = FileFingerprint(byteCount: 20_000 + Int64(index % 40_000),
                                              modificationTime: forwardedAt - .seconds(index),
                                              identity: FileIdentity(volume: 2049, file: UInt64(1_000_000 + index)))
            return ForwardRecord(digest: digest, fileName: syntheticBinaryName(index), byteCount: fingerprint.byteCount,
                                 hadReport: index % 50 != 0, forwardedAt: forwardedAt, fingerprint: fingerprint)
        }
    }

    /// Writes `syntheticRecords(count:seed:)` as a state at `statePath`, in the format a
    /// forwarder leaves: a format-4 text snapshot, which the first writable start rewrites in
    /// format 5 (`BinaryStateSnapshot`) beside an empty journal, as after an upgrade.
    public static func writeSyntheticState(recordCount: Int, seed: UInt64, to statePath: String) throws {
        removeState(at: statePath)
        var text = StateRecordCodec.header + "\n"
        text.reserveCapacity((recordCount + 1) * 150)
        for record in syntheticRecords(count: recordCount, seed: seed) {
            text += StateRecordCodec.encode(record)
        }
        try Data(text.utf8).write(to: URL(fileURLWithPath: statePath))
        try FileStateStore(path: statePath).close()
    }

    /// Loads the state at `statePath` read-only, as `status` does, and returns its size.
    public static func loadState(at statePath: String) throws -> (recordCount: Int, elapsed: Duration) {
        let started = ContinuousClock.now
        let store = try FileStateStore(path: statePath, readOnly: true)
        let count = store.count
        return (count, ContinuousClock.now - started)
    }

    /// `byteCount` seeded pseudo-random bytes, for hashing throughput.
    public static func randomBytes(byteCount: Int, seed: UInt64) -> Data {
        var random = SeededRandom(seed: seed)
        var words = [UInt64](repeating: 0, count: (byteCount + 7) / 8)
        for index in words.indices { words[index] = random.next() }
        return words.withUnsafeBytes { Data($0.prefix(byteCount)) }
    }

    /// The time `EventDigest(of:)` takes over `bytes`.
    public static func timedDigest(of bytes: Data) -> (digest: EventDigest, elapsed: Duration) {
        let started = ContinuousClock.now
        let digest = EventDigest(of: bytes)
        return (digest, ContinuousClock.now - started)
    }

    /// CPU time the calling thread has used so far.
    ///
    /// `openssl speed` divides by CPU user time, not wall time, so on a busy machine its figure
    /// stays high while wall-clock figures drop; in-process hashing is compared on CPU time too.
    public static func threadCPUTime() -> Duration {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return .seconds(Int64(time.tv_sec)) + .nanoseconds(Int64(time.tv_nsec))
    }

    /// A name of the event-binary shape, distinct for every index below 36⁴.
    static func syntheticBinaryName(_ index: Int) -> String {
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        var value = index
        var stem = ""
        for _ in 0..<4 {
            stem.append(alphabet[value % 36])
            value /= 36
        }
        return "S913\(stem).AB0W"
    }

    static func hexWord(_ word: UInt64) -> String {
        let digits = String(word, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

/// An uploader for runs that must never upload (seed-state, steady passes, dry runs).
public struct RefusingUploader: EventUploader {
    public init() {}

    public func upload(_ request: ImportRequest) async -> UploadOutcome {
        .rejected(UploadProblem(kind: .transport, detail: "this benchmark does not upload"))
    }
}

/// A temporary folder for one benchmark's fixtures; `remove()` deletes it with everything inside.
public struct BenchScratchFolder: Sendable {
    public let path: String

    /// Creates a fresh folder under the system's temporary folder, named after `label`.
    public init(label: String) throws {
        var template = Array((NSTemporaryDirectory() + "/forwarder-\(label)-XXXXXX").utf8CString)
        guard let created = mkdtemp(&template) else {
            throw FolderWriteError(path: String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self),
                                   operation: "mkdtemp", code: errno)
        }
        path = String(cString: created)
    }

    /// A path inside the folder.
    public func file(_ name: String) -> String { path + "/" + name }

    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}
