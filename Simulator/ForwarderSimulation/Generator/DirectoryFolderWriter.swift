import Foundation
import ForwarderCore
import Synchronization
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

    mutating func add(_ other: GenerationSummary) {
        eventCount += other.eventCount
        reportCount += other.reportCount
        monitorLogCount += other.monitorLogCount
        noiseFileCount += other.noiseFileCount
        byteCount += other.byteCount
    }
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
/// Uses `open`/`write`/`futimens` directly, one open per file and the modification time set
/// on the open descriptor, because `FileManager.setAttributes` costs a path lookup and several
/// allocations per file, which dominates when 100,000 events are written. History mode
/// writes events on several threads; every event's bytes come from its own seed, so the
/// result does not depend on which thread wrote what.
public struct DirectoryFolderWriter: Sendable {
    public let directoryPath: String

    public init(directoryPath: String) {
        self.directoryPath = directoryPath
    }

    /// Writes the plan's final folder with its planned modification times and returns what was
    /// written and the manifest (in the plan's download order). `progress` receives the number
    /// of events written so far, from any thread.
    public func writeHistory(_ plan: FolderPlan, workerCount: Int = ProcessInfo.processInfo.activeProcessorCount,
                             progress: @escaping @Sendable (Int) -> Void = { _ in }) throws
        -> (summary: GenerationSummary, manifest: [ManifestEntry]) {
        try createFolders(plan)
        let workers = max(1, min(workerCount, 8))
        let collected = Mutex<(entries: [ManifestEntry?], summary: GenerationSummary, error: FolderWriteError?)>(
            ([ManifestEntry?](repeating: nil, count: plan.events.count), GenerationSummary(), nil))
        let completedCount = ProgressCounter()
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var entries: [(index: Int, entry: ManifestEntry)] = []
            var summary = GenerationSummary()
            do {
                for index in stride(from: worker, to: plan.events.count, by: workers) {
                    let event = plan.events[index]
                    let binary = EventFileContents.binary(for: event)
                    try writeFile(event.binaryFileName, contents: binary, modificationTime: event.binaryFinish)
                    summary.eventCount += 1
                    summary.byteCount += Int64(binary.count)
                    let reportFiles = event.reportFiles
                    if !reportFiles.isEmpty {
                        let report = plan.reportContents(of: event)
                        for file in reportFiles {
                            try writeFile(file.name, contents: report, modificationTime: file.time)
                            summary.reportCount += 1
                            summary.byteCount += Int64(report.count)
                        }
                    }
                    entries.append((index, GenerationManifest.entry(for: event, binary: binary)))
                    let completed = completedCount.increment()
                    if completed % 512 == 0 { progress(completed) }
                }
            } catch let error as FolderWriteError {
                collected.withLock { $0.error = $0.error ?? error }
            } catch {
                collected.withLock { $0.error = $0.error ?? FolderWriteError(path: directoryPath, operation: "write", code: EIO) }
            }
            collected.withLock { state in
                for (index, entry) in entries { state.entries[index] = entry }
                state.summary.add(summary)
            }
        }
        var (entries, summary, failure) = collected.withLock { ($0.entries, $0.summary, $0.error) }
        if let failure { throw failure }
        progress(plan.events.count)
        for log in plan.finalMonitorLogs() {
            try writeFile(log.name, contents: log.contents, modificationTime: log.modificationTime)
            summary.monitorLogCount += 1
            summary.byteCount += Int64(log.contents.count)
        }
        for file in plan.noiseFiles {
            let contents = EventFileContents.noise(file.content)
            try writeFile(file.name, contents: contents, modificationTime: file.modificationTime)
            summary.noiseFileCount += 1
            summary.byteCount += Int64(contents.count)
        }
        summary.noiseFileCount += plan.directoryNames.count
        for directory in plan.directoryNames {
            try setModificationTime(of: directory, to: plan.periodStart)
        }
        return (summary, entries.compactMap { $0 })
    }

    /// Carries out `schedule` as time passes: each operation waits until its planned time,
    /// measured from now and divided by `speed`. Files get their real write times, which at
    /// speed 1 are the planned ones. `progress` receives each operation after it is applied.
    public func writeLive(_ schedule: LiveWriteSchedule, speed: Double,
                          progress: (FolderWriteOperation) -> Void = { _ in }) async throws -> GenerationSummary {
        try createRoot()
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
            let path = fullPath(operation.name)
            switch operation.action {
            case .createDirectory:
                try makeDirectory(operation.name)
                summary.noiseFileCount += 1
            case .create(let bytes):
                try writeFile(operation.name, contents: bytes, modificationTime: nil)
                summary.byteCount += Int64(bytes.count)
                if reportNames.contains(operation.name) {
                    summary.reportCount += 1
                } else if monitorLogNames.contains(operation.name) {
                    summary.monitorLogCount += 1
                } else if !eventNames.contains(operation.name) {
                    summary.noiseFileCount += 1
                }
            case .append(let bytes):
                try appendToFile(path, contents: bytes)
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

    /// Creates or replaces `name` with `contents`; sets its modification time when given.
    private func writeFile(_ name: String, contents: Data, modificationTime: FileTime?) throws {
        let path = fullPath(name)
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw FolderWriteError(path: path, operation: "create", code: errno) }
        defer { close(descriptor) }
        try writeAll(contents, to: descriptor, path: path)
        if let modificationTime {
            var times = [Self.fileTimespec(of: modificationTime), Self.fileTimespec(of: modificationTime)]
            guard futimens(descriptor, &times) == 0 else {
                throw FolderWriteError(path: path, operation: "set modification time of", code: errno)
            }
        }
    }

    private func appendToFile(_ path: String, contents: Data) throws {
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard descriptor >= 0 else { throw FolderWriteError(path: path, operation: "open for append", code: errno) }
        defer { close(descriptor) }
        try writeAll(contents, to: descriptor, path: path)
    }

    private func writeAll(_ contents: Data, to descriptor: Int32, path: String) throws {
        try contents.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var offset = 0
            while offset < buffer.count {
                let written = write(descriptor, base + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw FolderWriteError(path: path, operation: "write", code: errno)
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

/// A counter that several writer threads bump.
private final class ProgressCounter: Sendable {
    private let value = Atomic<Int>(0)

    /// Adds one and returns the new count.
    func increment() -> Int { value.add(1, ordering: .relaxed).newValue }
}
