import ForwarderCore
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file opened for appending whose writes reach the OS at once and the disk at `synchronize()`.
///
/// Each `append` is one `write` call, so a killed process loses nothing it appended; only a
/// power cut can lose what was appended since the last `synchronize()`.
final class AppendOnlyFile {
    let path: String
    #if os(Windows)
    private let handle: FileHandle
    #else
    private let descriptor: Int32
    #endif

    /// Opens `path` for appending, creating it when absent; takes an exclusive lock where the
    /// platform offers one, so two forwarders cannot share a state.
    init(path: String, exclusive: Bool) throws {
        self.path = path
        #if os(Windows)
        if !FileManager.default.fileExists(atPath: path) {
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw StateFileError(path: path, kind: .unwritable, detail: "cannot create the file")
            }
        }
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw StateFileError(path: path, kind: .unwritable, detail: "cannot open the file for writing")
        }
        handle.seekToEndOfFile()
        self.handle = handle
        #else
        let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw Self.failure(path: path, "cannot open for appending") }
        if exclusive, !Self.lockWithin(descriptor, attempts: 20, pause: 50_000) {
            close(descriptor)
            throw StateFileError(path: path, kind: .lockedByAnotherProcess, detail: "the state is locked")
        }
        self.descriptor = descriptor
        #endif
    }

    #if !os(Windows)
    /// Takes the exclusive lock, trying again for a moment: a forwarder that is just exiting
    /// (a service restart), or a child process between fork and exec, may hold it briefly.
    private static func lockWithin(_ descriptor: Int32, attempts: Int, pause microseconds: UInt32) -> Bool {
        for attempt in 1...attempts {
            if flock(descriptor, LOCK_EX | LOCK_NB) == 0 { return true }
            if attempt < attempts { usleep(microseconds) }
        }
        return false
    }
    #endif

    deinit {
        #if os(Windows)
        try? handle.close()
        #else
        close(descriptor)
        #endif
    }

    func append(_ bytes: some Collection<UInt8>) throws {
        #if os(Windows)
        do { try handle.write(contentsOf: Data(bytes)) } catch {
            throw StateFileError(path: path, kind: .unwritable, detail: "write failed: \(error)")
        }
        #else
        // Written from the bytes' own storage when they have one: a 190 MB backup is not copied.
        if try bytes.withContiguousStorageIfAvailable({ try writeAll($0) }) == nil {
            try Array(bytes).withUnsafeBufferPointer { try writeAll($0) }
        }
        #endif
    }

    #if !os(Windows)
    private func writeAll(_ buffer: UnsafeBufferPointer<UInt8>) throws {
        var offset = 0
        while offset < buffer.count {
            let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw Self.failure(path: path, "write failed")
            }
            offset += written
        }
    }
    #endif

    /// Cuts the file to `byteCount` bytes (used to drop a torn last line before appending).
    func truncate(to byteCount: Int) throws {
        #if os(Windows)
        do { try handle.truncate(atOffset: UInt64(byteCount)); try handle.seekToEnd() } catch {
            throw StateFileError(path: path, kind: .unwritable, detail: "truncate failed: \(error)")
        }
        #else
        guard ftruncate(descriptor, off_t(byteCount)) == 0 else { throw Self.failure(path: path, "truncate failed") }
        #endif
    }

    func synchronize() throws {
        #if os(Windows)
        do { try handle.synchronize() } catch {
            throw StateFileError(path: path, kind: .unwritable, detail: "sync failed: \(error)")
        }
        #else
        guard fsync(descriptor) == 0 else { throw Self.failure(path: path, "fsync failed") }
        #endif
    }

    static func lastError() -> String { String(cString: strerror(errno)) }

    /// The error for a call on `path` that just failed, with the OS's message and error number.
    static func failure(path: String, _ what: String) -> StateFileError {
        let code = errno
        return StateFileError(path: path, kind: .unwritable, detail: "\(what): \(String(cString: strerror(code)))",
                              errorNumber: code)
    }
}

extension StateFileError {
    /// Whether the disk refuses for now (full, over quota, read-only, failing) rather than the
    /// path being unusable: a forwarder then waits for the disk instead of stopping.
    var isDiskCondition: Bool {
        #if os(Windows)
        return false
        #else
        guard kind == .unwritable, let errorNumber else { return false }
        return [ENOSPC, EDQUOT, EROFS, EIO].contains(errorNumber)
        #endif
    }
}

/// Whole-file writes that are atomic and durable: write a temporary file, sync it, rename it
/// over the target, then sync the folder so the rename itself survives a power cut.
enum AtomicFileWriter {
    ///
    /// When anything fails the target is untouched and the temporary file is removed: on a full
    /// disk it would hold the space that the next attempt needs.
    static func write(_ bytes: Data, to path: String) throws {
        try write(to: path) { emit in try emit(bytes) }
    }

    /// Writes what `produce` emits, in pieces, buffered into large writes: a snapshot of a
    /// million records is never held whole in memory.
    static func write(to path: String,
                      _ produce: (_ emit: (any Collection<UInt8>) throws -> Void) throws -> Void) throws {
        let temporaryPath = path + ".tmp"
        do {
            let temporary = try AppendOnlyFile(path: temporaryPath, exclusive: false)
            try temporary.truncate(to: 0)
            var pending: [UInt8] = []
            let flushByteCount = 1 << 20
            pending.reserveCapacity(flushByteCount)
            try produce { bytes in
                if bytes.count >= flushByteCount {
                    try temporary.append(pending)
                    pending.removeAll(keepingCapacity: true)
                    try temporary.append(bytes)
                    return
                }
                pending.append(contentsOf: bytes)
                if pending.count >= flushByteCount {
                    try temporary.append(pending)
                    pending.removeAll(keepingCapacity: true)
                }
            }
            try temporary.append(pending)
            try temporary.synchronize()
        } catch {
            removeTemporary(temporaryPath)
            throw error
        }
        #if os(Windows)
        do {
            if FileManager.default.fileExists(atPath: path) {
                _ = try FileManager.default.replaceItemAt(URL(fileURLWithPath: path),
                                                          withItemAt: URL(fileURLWithPath: temporaryPath))
            } else {
                try FileManager.default.moveItem(atPath: temporaryPath, toPath: path)
            }
        } catch {
            throw StateFileError(path: path, kind: .unwritable, detail: "cannot replace the file: \(error)")
        }
        #else
        guard rename(temporaryPath, path) == 0 else {
            let failure = AppendOnlyFile.failure(path: path, "cannot rename \(temporaryPath) into place")
            removeTemporary(temporaryPath)
            throw failure
        }
        try synchronizeFolder(containing: path)
        #endif
    }

    /// Removes a temporary file left by a failed write; a folder in its place is left alone.
    private static func removeTemporary(_ temporaryPath: String) {
        #if os(Windows)
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: temporaryPath, isDirectory: &isFolder), !isFolder.boolValue {
            try? FileManager.default.removeItem(atPath: temporaryPath)
        }
        #else
        _ = unlink(temporaryPath)
        #endif
    }

    /// Makes a rename or a new file in the folder of `path` durable (POSIX only).
    static func synchronizeFolder(containing path: String) throws {
        #if !os(Windows)
        let folder = (path as NSString).deletingLastPathComponent
        let descriptor = open(folder.isEmpty ? "." : folder, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw AppendOnlyFile.failure(path: path, "cannot open its folder") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw AppendOnlyFile.failure(path: path, "cannot sync its folder") }
        #endif
    }
}
