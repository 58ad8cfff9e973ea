import Foundation
import ForwarderCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a writer put into a folder.
public struct GenerationSummary: Sendable, Hashable {
    public var eventCount = 0
    public var reportCount = 0
    /// `BE#####.MLG` files of units that called in.
    public var monitorLogCount = 0
    /// Noise files and sub-folders.
    public var noiseFileCount = 0
    /// Bytes written to all files.
    public var byteCount: Int64 = 0

    public init() {}
}

/// A file-system call that failed while writing a generated folder.
public struct FolderWriteError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var operation: String
    public var code: Int32

    public var description: String { "\(operation) \(path): \(String(cString: strerror(code)))" }
}

/// Writes plans into a real directory: the edge where the generator's values become files.
///
/// Uses `openat`/`write`/`futimens` directly, one open per file and the modification time set
/// on the open descriptor, because `FileManager.setAttributes` costs a path lookup and several
/// allocations per file, which dominates when 100,000 events are written. History mode
/// generates events on other threads than the one writing them; every event's bytes come
/// from its own seed, so the result does not depend on which thread made what.
public struct DirectoryFolderWriter: Sendable {
    public let directoryPath: String

    public init(directoryPath: String) {
        self.directoryPath = directoryPath
    }

    /// Writes the plan's final folder with its planned modification times and returns what was
    /// written and the manifest (in the plan's download order). `progress` receives the number
    /// of events written so far.
    ///
    /// `generatorThreadCount` threads generate and hash events in batches while the calling
    /// thread alone creates the files: creating files in one directory from several threads
    /// only makes them queue on the directory's lock, whereas generating overlaps with writing.
    public func writeHistory(_ plan: FolderPlan,
                             generatorThreadCount: Int = max(1, ProcessInfo.processInfo.activeProcessorCount - 1),
                             progress: (Int) -> Void = { _ in }) throws
        -> (summary: GenerationSummary, manifest: [ManifestEntry]) {
        try createFolders(plan)
        let folder = try openFolder()
        defer { close(folder) }
        let batchSize = 64
        let batchCount = (plan.events.count + batchSize - 1) / batchSize
        let producerCount = max(1, min(generatorThreadCount, 8))
        let handOff = BatchHandOff(window: 4 * producerCount)
        let producers = DispatchGroup()
        for producer in 0..<producerCount {
            DispatchQueue.global().async(group: producers) {
                for index in stride(from: producer, to: batchCount, by: producerCount) {
                    let events = plan.events[(index * batchSize)..<min(plan.events.count, (index + 1) * batchSize)]
                    guard handOff.put(Self.generateBatch(events, plan: plan), at: index) else { return }
                }
            }
        }
        defer {
            handOff.cancel()
            producers.wait()
        }

        var summary = GenerationSummary()
        var manifest: [ManifestEntry] = []
        manifest.reserveCapacity(plan.events.count)
        for index in 0..<batchCount {
            let batch = handOff.take(at: index)
            for file in batch.files {
                try writeFile(file.name, in: folder, contents: file.contents, modificationTime: file.modificationTime)
                summary.byteCount += Int64(file.contents.count)
            }
            summary.eventCount += batch.entries.count
            summary.reportCount += batch.files.count - batch.entries.count
            manifest += batch.entries
            progress(manifest.count)
        }
        for log in plan.finalMonitorLogs() {
            try writeFile(log.name, in: folder, contents: log.contents, modificationTime: log.modificationTime)
            summary.monitorLogCount += 1
            summary.byteCount += Int64(log.contents.count)
        }
        for file in plan.noiseFiles {
            let contents = EventFileContents.noise(file.content)
            try writeFile(file.name, in: folder, contents: contents, modificationTime: file.modificationTime)
            summary.noiseFileCount += 1
            summary.byteCount += Int64(contents.count)
        }
        summary.noiseFileCount += plan.directoryNames.count
        for directory in plan.directoryNames {
            try setModificationTime(of: directory, to: plan.periodStart)
        }
        return (summary, manifest)
    }

    /// The files and manifest entries of a run of events: the binary, then its reports.
    static func generateBatch(_ events: ArraySlice<PlannedEvent>, plan: FolderPlan) -> GeneratedBatch {
        var batch = GeneratedBatch()
        for event in events {
            let binary = EventFileContents.binary(for: event)
            batch.files.append((event.binaryFileName, binary, event.binaryFinish))
            let reportFiles = event.reportFiles
            if !reportFiles.isEmpty {
                let report = plan.reportContents(of: event)
                for file in reportFiles { batch.files.append((file.name, report, file.time)) }
            }
            batch.entries.append(GenerationManifest.entry(for: event, binary: binary))
        }
        return batch
    }

    /// Carries out `schedule` as time passes: each operation waits until its planned time,
    /// measured from now and divided by `speed`. Files get their real write times, which at
    /// speed 1 are the planned ones. `progress` receives each operation after it is applied.
    public func writeLive(_ schedule: LiveWriteSchedule, speed: Double,
                          progress: (FolderWriteOperation) -> Void = { _ in }) async throws -> GenerationSummary {
        try createRoot()
        let folder = try openFolder()
        defer { close(folder) }
        let plan = schedule.plan
        let eventNames = Set(plan.events.map(\.binaryFileName))
        let reportNames = Set(plan.events.flatMap { event in event.reportFiles.map(\.name) })
        let monitorLogNames = Set(plan.units.map(\.monitorLogName))
        let clock = ContinuousClock()
        let wallStart = clock.now
        var summary = GenerationSummary()
        for operation in schedule {
            let deadline = wallStart + (operation.time - plan.periodStart) / max(speed, 1e-9)
            if deadline > clock.now { try await clock.sleep(until: deadline) }
            switch operation.action {
            case .createDirectory:
                try makeDirectory(operation.name)
                summary.noiseFileCount += 1
            case .create(let bytes):
                try writeFile(operation.name, in: folder, contents: bytes, modificationTime: nil)
                summary.byteCount += Int64(bytes.count)
                if reportNames.contains(operation.name) {
                    summary.reportCount += 1
                } else if monitorLogNames.contains(operation.name) {
                    summary.monitorLogCount += 1
                } else if !eventNames.contains(operation.name) {
                    summary.noiseFileCount += 1
                }
            case .append(let bytes):
                try appendToFile(operation.name, in: folder, contents: bytes)
                summary.byteCount += Int64(bytes.count)
            case .finish:
                if eventNames.contains(operation.name) { summary.eventCount += 1 }
            }
            progress(operation)
        }
        return summary
    }

    // MARK: File system

    private func fullPath(_ name: String) -> String { directoryPath + "/" + name }

    private func createRoot() throws {
        do {
            try FileManager.default.createDirectory(atPath: directoryPath, withIntermediateDirectories: true)
        } catch {
            throw FolderWriteError(path: directoryPath, operation: "create folder", code: errno == 0 ? EIO : errno)
        }
    }

    private func createFolders(_ plan: FolderPlan) throws {
        try createRoot()
        for directory in plan.directoryNames { try makeDirectory(directory) }
    }

    private func makeDirectory(_ name: String) throws {
        let path = fullPath(name)
        guard mkdir(path, 0o755) == 0 || errno == EEXIST else {
            throw FolderWriteError(path: path, operation: "create folder", code: errno)
        }
    }

    /// The folder, opened once so that each file is created relative to it (`openat`) rather
    /// than by walking the whole path again.
    private func openFolder() throws -> Int32 {
        let descriptor = open(directoryPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FolderWriteError(path: directoryPath, operation: "open folder", code: errno) }
        return descriptor
    }

    /// Creates or replaces `name` in the folder `folder` with `contents`; sets its modification time when given.
    private func writeFile(_ name: String, in folder: Int32, contents: Data, modificationTime: FileTime?) throws {
        let descriptor = openat(folder, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw FolderWriteError(path: fullPath(name), operation: "create", code: errno) }
        defer { close(descriptor) }
        try writeAll(contents, to: descriptor, name: name)
        if let modificationTime {
            var times = [Self.fileTimespec(of: modificationTime), Self.fileTimespec(of: modificationTime)]
            guard futimens(descriptor, &times) == 0 else {
                throw FolderWriteError(path: fullPath(name), operation: "set modification time of", code: errno)
            }
        }
    }

    private func appendToFile(_ name: String, in folder: Int32, contents: Data) throws {
        let descriptor = openat(folder, name, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard descriptor >= 0 else { throw FolderWriteError(path: fullPath(name), operation: "open for append", code: errno) }
        defer { close(descriptor) }
        try writeAll(contents, to: descriptor, name: name)
    }

    private func writeAll(_ contents: Data, to descriptor: Int32, name: String) throws {
        try contents.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var offset = 0
            while offset < buffer.count {
                let written = write(descriptor, base + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw FolderWriteError(path: fullPath(name), operation: "write", code: errno)
                }
                offset += written
            }
        }
    }

    private func setModificationTime(of name: String, to time: FileTime) throws {
        let path = fullPath(name)
        var times = [Self.fileTimespec(of: time), Self.fileTimespec(of: time)]
        guard utimensat(AT_FDCWD, path, &times, 0) == 0 else {
            throw FolderWriteError(path: path, operation: "set modification time of", code: errno)
        }
    }

    private static func fileTimespec(of time: FileTime) -> timespec {
        let nanoseconds = time.nanosecondsSince1970
        let seconds = nanoseconds.floorDividedBy(1_000_000_000)
        return timespec(tv_sec: Int(seconds), tv_nsec: Int(nanoseconds - seconds * 1_000_000_000))
    }
}

/// Generated files waiting to be written.
struct GeneratedBatch: Sendable {
    var files: [(name: String, contents: Data, modificationTime: FileTime)] = []
    var entries: [ManifestEntry] = []
}

/// Passes batches from generator threads to the writing thread in index order, holding at
/// most `window` batches ahead of the writer so memory stays bounded.
///
/// A condition variable, not a `Mutex`, because both sides must sleep until the other moves;
/// every stored property is touched only while `condition` is locked.
private final class BatchHandOff: @unchecked Sendable {
    private let condition = NSCondition()
    private let window: Int
    private var ready: [Int: GeneratedBatch] = [:]
    private var nextIndexToTake = 0
    private var isCancelled = false

    init(window: Int) { self.window = window }

    /// Stores batch `index`, waiting while it is too far ahead; false once the writer gave up.
    func put(_ batch: GeneratedBatch, at index: Int) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !isCancelled, index >= nextIndexToTake + window { condition.wait() }
        guard !isCancelled else { return false }
        ready[index] = batch
        condition.broadcast()
        return true
    }

    /// Waits for batch `index` and removes it.
    func take(at index: Int) -> GeneratedBatch {
        condition.lock()
        defer { condition.unlock() }
        while ready[index] == nil { condition.wait() }
        nextIndexToTake = index + 1
        condition.broadcast()
        return ready.removeValue(forKey: index) ?? GeneratedBatch()
    }

    /// Releases every waiting generator; later `put`s are refused.
    func cancel() {
        condition.lock()
        isCancelled = true
        condition.broadcast()
        condition.unlock()
    }
}
