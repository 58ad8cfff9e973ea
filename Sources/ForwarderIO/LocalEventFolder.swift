import ForwarderCore
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The watched folder on the local disk.
///
/// Lists with `readdir` + `fstatat` (one stat per entry, links not followed): at 100k+ files
/// that is 10–20× faster than `FileManager`. Windows, where Blastware PCs run, takes a small
/// portable path through `FileManager` that cannot be tested here and so stays plain.
public struct LocalEventFolder: EventFolder {
    public let path: String

    public init(path: String) { self.path = path }

    public var location: String { path }

    public func listEntries() throws -> FolderListing {
        #if os(Windows)
        return try listWithFileManager()
        #else
        return try listWithReaddir()
        #endif
    }

    public func readContents(of name: String) throws -> Data {
        // Byte checks: `String.contains` of a string goes through Foundation's slow string search.
        guard !name.utf8.contains(UInt8(ascii: "/")), !name.utf8.contains(UInt8(ascii: "\\")),
              name != "..", name != "." else {
            throw FolderError(kind: .outsideFolder, path: name, detail: "not a plain file name")
        }
        let filePath = (path as NSString).appendingPathComponent(name)
        #if os(Windows)
        let attributes = try? FileManager.default.attributesOfItem(atPath: filePath)
        guard attributes?[.type] as? FileAttributeType == .typeRegular else {
            throw FolderError(kind: .notARegularFile, path: filePath, detail: "not a regular file")
        }
        do { return try Data(contentsOf: URL(fileURLWithPath: filePath)) } catch {
            throw FolderError(kind: .other(code: 0), path: filePath, detail: "\(error)")
        }
        #else
        // O_NOFOLLOW: a link swapped in after listing is refused rather than followed out of the folder.
        // O_NONBLOCK: a named pipe swapped in after listing is refused below instead of blocking the
        // pass until some writer opens it; reads of a regular file ignore the flag.
        let descriptor = open(filePath, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { throw Self.folderError(errno, path: filePath) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw Self.folderError(errno, path: filePath) }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw FolderError(kind: .notARegularFile, path: filePath, detail: "not a regular file")
        }
        // Read into uninitialized memory that the Data then owns: `Data(count:)` would zero-fill
        // every byte only for `read` to overwrite it.
        let byteCount = Int(status.st_size)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 1), alignment: 16)
        var total = 0
        while total < byteCount {
            let count = read(descriptor, buffer + total, byteCount - total)
            if count < 0 {
                if errno == EINTR { continue }
                let error = errno
                buffer.deallocate()
                throw Self.folderError(error, path: filePath)
            }
            if count == 0 { break }
            total += count
        }
        // A file that shrank while being read returns what was there; the caller compares sizes.
        return Data(bytesNoCopy: buffer, count: total, deallocator: .custom { pointer, _ in pointer.deallocate() })
        #endif
    }

    #if !os(Windows)
    private func listWithReaddir() throws -> FolderListing {
        guard let directory = opendir(path) else { throw Self.folderError(errno, path: path, isFolder: true) }
        defer { closedir(directory) }
        let directoryDescriptor = dirfd(directory)
        // Count the names and their bytes first and reserve exactly: a buffer grown by doubling
        // briefly holds its old and new storage, which at 200,000 entries was the peak of a steady pass.
        var nameCount = 0
        var nameByteCount = 0
        while let entry = readdir(directory) {
            nameCount += 1
            nameByteCount += withUnsafePointer(to: entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { strlen($0) }
            }
        }
        rewinddir(directory)
        var listing = FolderListing()
        listing.reserveCapacity(entryCount: nameCount, nameByteCount: nameByteCount)
        while true {
            errno = 0
            guard let entry = readdir(directory) else {
                if errno != 0 { throw Self.folderError(errno, path: path, isFolder: true) }
                break
            }
            var status = stat()
            // Stat and keep the raw name: a name that is not UTF-8 is repaired in `String`, and the
            // repaired name would not be found, so the entry would vanish from the listing and its counts.
            withUnsafePointer(to: entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { rawName in
                    let name = UnsafeBufferPointer(start: UnsafeRawPointer(rawName).assumingMemoryBound(to: UInt8.self),
                                                   count: strlen(rawName))
                    if name.elementsEqual(".".utf8) || name.elementsEqual("..".utf8) { return }
                    // A file removed between readdir and fstatat is simply not listed.
                    guard fstatat(directoryDescriptor, rawName, &status, AT_SYMLINK_NOFOLLOW) == 0 else { return }
                    let kind: FolderEntry.Kind
                    switch status.st_mode & S_IFMT {
                    case S_IFREG: kind = .regularFile
                    case S_IFDIR: kind = .directory
                    default: kind = .other
                    }
                    #if canImport(Darwin)
                    let modified = status.st_mtimespec
                    #else
                    let modified = status.st_mtim
                    #endif
                    listing.append(nameBytes: name, kind: kind, byteCount: Int64(status.st_size),
                                   modificationTime: FileTime(secondsSince1970: Int64(modified.tv_sec),
                                                              nanoseconds: Int64(modified.tv_nsec)),
                                   identity: FileIdentity(volume: UInt64(status.st_dev), file: UInt64(status.st_ino)))
                }
            }
        }
        return listing
    }
    #endif

    /// The portable listing for Windows; also compiled on POSIX so it cannot rot unseen.
    public func listWithFileManager() throws -> FolderListing {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw FolderError(kind: .folderMissing, path: path, detail: "the watch folder does not exist")
        }
        guard isFolder.boolValue else {
            throw FolderError(kind: .notAFolder, path: path, detail: "the watch path is not a folder")
        }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: path) } catch {
            throw FolderError(kind: .permissionDenied, path: path, detail: "cannot list the folder: \(error)")
        }
        return FolderListing(names.lazy.compactMap { name in
            let filePath = (path as NSString).appendingPathComponent(name)
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: filePath) else { return nil }
            let type = attributes[.type] as? FileAttributeType
            let kind: FolderEntry.Kind = type == .typeRegular ? .regularFile : type == .typeDirectory ? .directory : .other
            let modified = (attributes[.modificationDate] as? Date) ?? Date(timeIntervalSince1970: 0)
            let identity = (attributes[.systemFileNumber] as? NSNumber).map { number in
                FileIdentity(volume: (attributes[.systemNumber] as? NSNumber)?.uint64Value ?? 0, file: number.uint64Value)
            }
            return FolderEntry(name: name, kind: kind, byteCount: (attributes[.size] as? NSNumber)?.int64Value ?? 0,
                               modificationTime: FileTime(modified), identity: identity)
        })
    }

    static func folderError(_ code: Int32, path: String, isFolder: Bool = false) -> FolderError {
        let detail = String(cString: strerror(code))
        switch code {
        case ENOENT: return FolderError(kind: isFolder ? .folderMissing : .fileMissing, path: path, detail: detail)
        case ENOTDIR: return FolderError(kind: .notAFolder, path: path, detail: detail)
        case EACCES, EPERM: return FolderError(kind: .permissionDenied, path: path, detail: detail)
        case ELOOP: return FolderError(kind: .outsideFolder, path: path, detail: "is a symbolic link")
        default: return FolderError(kind: .other(code: code), path: path, detail: detail)
        }
    }
}

/// The real wall clock, the system's monotonic clock and real sleeping.
public struct SystemClock: ForwarderClock {
    /// The monotonic reading taken as origin; only differences between readings matter.
    private let origin = ContinuousClock.now

    public init() {}

    public func now() -> FileTime { FileTime(Date()) }

    public func monotonicNow() -> MonotonicTime {
        MonotonicTime(nanosecondsSinceOrigin: (ContinuousClock.now - origin).wholeNanoseconds)
    }

    public func sleep(for duration: Duration) async throws {
        try await Task.sleep(for: duration)
    }
}
