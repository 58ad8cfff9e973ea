import Foundation
import ForwarderCore
import Synchronization

/// An ACH folder in memory, driven by a simulated clock instead of the disk.
///
/// It implements the forwarder's `EventFolder` seam, so the real planner and uploader run
/// against it, and it can carry out a `LiveWriteSchedule` step by step: the simulation moves its
/// clock and calls `applyScheduledOperations(through:)`, so files appear, grow and settle exactly
/// when the plan says. Names are case-sensitive, as on the Linux disks tests run on. Files whose
/// path contains `/` live in sub-folders and are not listed, as the forwarder scans one level.
/// Every file gets a new identity (volume 1, an increasing file number) when it is created.
public final class SimEventFolder: EventFolder {
    private struct StoredFile {
        var contents: Data
        var modificationTime: FileTime
        /// When the file was last written in true time; differs from the modification time
        /// when the PC's wall clock was stepped (see `applyScheduledOperations(through:wallClockOffset:)`).
        var lastWrittenAt: FileTime
        var identity: FileIdentity
        var isDirectory: Bool
    }

    private struct State {
        var files: [String: StoredFile] = [:]
        var nextFileNumber: UInt64 = 1
        var schedule: LiveWriteSchedule.Iterator?
        var nextScheduled: FolderWriteOperation?

        mutating func store(_ name: String, contents: Data, modificationTime: FileTime, isDirectory: Bool,
                            writtenAt: FileTime? = nil) {
            files[name] = StoredFile(contents: contents, modificationTime: modificationTime,
                                     lastWrittenAt: writtenAt ?? modificationTime,
                                     identity: FileIdentity(volume: 1, file: nextFileNumber), isDirectory: isDirectory)
            nextFileNumber += 1
        }

        /// Carries out `operation`, dating it `wallClockOffset` away from its true time as a PC
        /// whose clock was stepped does; returns false when it names a file that does not exist.
        mutating func apply(_ operation: FolderWriteOperation, wallClockOffset: Duration = .zero) -> Bool {
            let stamped = operation.time + wallClockOffset
            switch operation.action {
            case .createDirectory:
                store(operation.name, contents: Data(), modificationTime: stamped, isDirectory: true, writtenAt: operation.time)
            case .create(let bytes):
                store(operation.name, contents: bytes, modificationTime: stamped, isDirectory: false, writtenAt: operation.time)
            case .append(let bytes):
                guard files[operation.name] != nil else { return false }
                files[operation.name]?.contents.append(bytes)
                files[operation.name]?.modificationTime = stamped
                files[operation.name]?.lastWrittenAt = operation.time
            case .finish:
                guard files[operation.name] != nil else { return false }
                files[operation.name]?.modificationTime = stamped
                files[operation.name]?.lastWrittenAt = operation.time
            }
            return true
        }
    }

    public let location: String
    private let state = Mutex(State())

    public init(location: String = "sim://autocall-home") {
        self.location = location
    }

    // MARK: EventFolder

    public func listEntries() throws -> FolderListing {
        FolderListing(state.withLock { state in
            state.files.compactMap { name, file -> FolderEntry? in
                guard !name.contains("/") else { return nil }
                return FolderEntry(name: name, kind: file.isDirectory ? .directory : .regularFile,
                                   byteCount: Int64(file.contents.count), modificationTime: file.modificationTime,
                                   identity: file.identity)
            }
        }.sorted { $0.name < $1.name })
    }

    public func readContents(of name: String) throws -> Data {
        try state.withLock { state in
            guard let file = state.files[name] else { throw error(.fileMissing, name, "no such file") }
            guard !file.isDirectory else { throw error(.notARegularFile, name, "is a folder") }
            return file.contents
        }
    }

    /// When `name` was last written in true time, for judges: the modification time a listing
    /// shows is the PC's wall clock, which the simulation may have stepped.
    public func lastWrittenAt(_ name: String) -> FileTime? {
        state.withLock { $0.files[name]?.lastWrittenAt }
    }

    // MARK: Direct changes

    /// Creates `name` with `contents`, replacing any file of that name with a new identity.
    public func create(_ name: String, contents: Data = Data(), modificationTime: FileTime) {
        state.withLock { $0.store(name, contents: contents, modificationTime: modificationTime, isDirectory: false) }
    }

    /// Creates the sub-folder `name` (a directory entry in listings).
    public func createDirectory(_ name: String, modificationTime: FileTime) {
        state.withLock { $0.store(name, contents: Data(), modificationTime: modificationTime, isDirectory: true) }
    }

    /// Appends `bytes` to the existing file `name`.
    public func append(_ bytes: Data, to name: String, modificationTime: FileTime) throws {
        try apply(FolderWriteOperation(time: modificationTime, name: name, action: .append(bytes)))
    }

    /// Sets the modification time of `name`, as `touch` or a closing writer does.
    public func setModificationTime(_ modificationTime: FileTime, of name: String) throws {
        try apply(FolderWriteOperation(time: modificationTime, name: name, action: .finish))
    }

    /// Removes `name`.
    public func remove(_ name: String) throws {
        let removed = state.withLock { $0.files.removeValue(forKey: name) != nil }
        guard removed else { throw error(.fileMissing, name, "cannot remove a missing file") }
    }

    /// Carries out one live-mode operation.
    public func apply(_ operation: FolderWriteOperation) throws {
        guard state.withLock({ $0.apply(operation) }) else {
            throw error(.fileMissing, operation.name, "cannot change a missing file")
        }
    }

    /// Fills the folder with the plan's final state at once, as history mode does on disk.
    public func apply(_ plan: FolderPlan) {
        for directory in plan.directoryNames { createDirectory(directory, modificationTime: plan.periodStart) }
        for event in plan.events {
            create(event.binaryFileName, contents: EventFileContents.binary(for: event), modificationTime: event.binaryFinish)
            let reportFiles = event.reportFiles
            if !reportFiles.isEmpty {
                let report = plan.reportContents(of: event)
                for file in reportFiles { create(file.name, contents: report, modificationTime: file.time) }
            }
        }
        for log in plan.finalMonitorLogs() { create(log.name, contents: log.contents, modificationTime: log.modificationTime) }
        for file in plan.noiseFiles {
            create(file.name, contents: EventFileContents.noise(file.content), modificationTime: file.modificationTime)
        }
    }

    // MARK: Scheduled changes

    /// Queues `schedule` in place of any queued before; nothing happens until
    /// `applyScheduledOperations(through:)`.
    public func schedule(_ schedule: LiveWriteSchedule) {
        state.withLock { state in
            var iterator = schedule.makeIterator()
            state.nextScheduled = iterator.next()
            state.schedule = iterator
        }
    }

    /// When the next queued operation happens, or nil when none is left.
    public var nextScheduledTime: FileTime? { state.withLock { $0.nextScheduled?.time } }

    /// Carries out every queued operation whose time is at or before `time`, in order, and
    /// returns how many there were. Holding the lock throughout keeps concurrent callers from
    /// interleaving one schedule's writes.
    /// `wallClockOffset` is how far the PC's wall clock is from true time: writes are dated by it.
    @discardableResult
    public func applyScheduledOperations(through time: FileTime, wallClockOffset: Duration = .zero) throws -> Int {
        let (appliedCount, missingName) = state.withLock { state -> (Int, String?) in
            var appliedCount = 0
            while let operation = state.nextScheduled, operation.time <= time {
                state.nextScheduled = state.schedule?.next()
                guard state.apply(operation, wallClockOffset: wallClockOffset) else { return (appliedCount, operation.name) }
                appliedCount += 1
            }
            return (appliedCount, nil)
        }
        if let missingName { throw error(.fileMissing, missingName, "scheduled write to a missing file") }
        return appliedCount
    }

    private func error(_ kind: FolderError.Kind, _ name: String, _ detail: String) -> FolderError {
        FolderError(kind: kind, path: "\(location)/\(name)", detail: detail)
    }
}
