#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Packs folders into `.tar.gz` fixtures and unpacks them, interoperable with GNU tar.
///
/// The archive is POSIX ustar inside gzip, so `tar -xzf` reads what `pack` writes and `unpack`
/// reads what `tar -czf` writes (including GNU long names and pax path/mtime records). Both
/// directions stream through fixed 64 KB buffers, so a fixture of any size needs the same
/// memory. Nothing half-written is left behind: `pack` writes a temporary file and renames it
/// when complete, and `unpack` extracts into a staging folder beside the target and moves the
/// entries in only after the whole archive, gzip trailer included, has checked out.
public enum FixtureArchive {
    /// What a pack or unpack handled.
    public struct Summary: Sendable, Hashable {
        public var fileCount = 0
        public var directoryCount = 0
        /// Bytes of file contents (uncompressed).
        public var byteCount: Int64 = 0
        /// Entries `unpack` skipped because they are links or devices.
        public var skippedEntryCount = 0
    }

    /// Packs the contents of `directory` (not the folder itself) into the gzip-compressed tar
    /// file `archivePath`, keeping names and modification times (whole seconds).
    @discardableResult
    public static func pack(directory: String, into archivePath: String, compressionLevel: Int32 = 6) throws -> Summary {
        let temporaryPath = "\(archivePath).partial-\(getpid())"
        unlink(temporaryPath)
        do {
            let summary: Summary
            do {
                let writer = try GzipFileWriter(path: temporaryPath, level: compressionLevel)
                var packer = TarPacker(writer: writer)
                try packer.addContents(of: directory, archivePrefix: "")
                try packer.finish()
                summary = packer.summary
            }
            guard rename(temporaryPath, archivePath) == 0 else {
                throw FixtureArchiveError.fileSystem(path: archivePath, operation: "rename into place", code: errno)
            }
            return summary
        } catch {
            unlink(temporaryPath)
            throw error
        }
    }

    /// Extracts `archivePath` into `directory` (created when missing), keeping names and
    /// modification times; an existing file of the same name is replaced.
    @discardableResult
    public static func unpack(archive archivePath: String, into directory: String) throws -> Summary {
        let trimmedDirectory = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        let parent = trimmedDirectory.contains("/") ? String(trimmedDirectory[..<trimmedDirectory.lastIndex(of: "/")!]) : "."
        let baseName = trimmedDirectory.split(separator: "/").last.map(String.init) ?? "unpacked"
        let stagingPath = "\(parent.isEmpty ? "/" : parent)/.\(baseName).unpacking-\(getpid())"
        try FileSystem.removeTree(stagingPath)
        try FileSystem.makeDirectories(stagingPath)
        do {
            let reader = try GzipFileReader(path: archivePath)
            var extractor = TarExtractor(reader: reader, stagingPath: stagingPath)
            try extractor.extractAll()
            try FileSystem.makeDirectories(trimmedDirectory)
            try FileSystem.moveContents(of: stagingPath, into: trimmedDirectory)
            try FileSystem.removeTree(stagingPath)
            return extractor.summary
        } catch {
            try? FileSystem.removeTree(stagingPath)
            throw error
        }
    }
}

/// Writes ustar entries into a gzip stream.
struct TarPacker {
    let writer: GzipFileWriter
    var summary = FixtureArchive.Summary()
    private var buffer = [UInt8](repeating: 0, count: streamBufferByteCount)

    init(writer: GzipFileWriter) { self.writer = writer }

    /// Adds every entry below `directory`, sorted by name so the archive is reproducible.
    mutating func addContents(of directory: String, archivePrefix: String) throws {
        for name in try FileSystem.entryNames(of: directory).sorted() {
            let path = "\(directory)/\(name)"
            let archiveName = archivePrefix + name
            var status = stat()
            guard lstat(path, &status) == 0 else {
                throw FixtureArchiveError.fileSystem(path: path, operation: "stat", code: errno)
            }
            let modificationSeconds = Int64(status.st_mtim.tv_sec)
            switch status.st_mode & S_IFMT {
            case S_IFDIR:
                try writer.write(try TarHeader.block(name: archiveName + "/", byteCount: 0,
                                                     modificationSeconds: modificationSeconds, type: .directory))
                summary.directoryCount += 1
                try addContents(of: path, archivePrefix: archiveName + "/")
            case S_IFREG:
                try addFile(at: path, archiveName: archiveName, byteCount: Int64(status.st_size),
                            modificationSeconds: modificationSeconds)
            default:
                throw FixtureArchiveError.unsupportedEntry(path: path, detail: "only regular files and folders can be packed")
            }
        }
    }

    private mutating func addFile(at path: String, archiveName: String, byteCount: Int64, modificationSeconds: Int64) throws {
        try writer.write(try TarHeader.block(name: archiveName, byteCount: byteCount,
                                             modificationSeconds: modificationSeconds, type: .regularFile))
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FixtureArchiveError.fileSystem(path: path, operation: "open", code: errno) }
        defer { close(descriptor) }
        var remaining = byteCount
        let writer = self.writer
        try buffer.withUnsafeMutableBytes { buffer in
            while remaining > 0 {
                let readCount = posixRead(descriptor, buffer.baseAddress!, Int(min(Int64(buffer.count), remaining)))
                if readCount < 0 {
                    if errno == EINTR { continue }
                    throw FixtureArchiveError.fileSystem(path: path, operation: "read", code: errno)
                }
                guard readCount > 0 else {
                    throw FixtureArchiveError.unsupportedEntry(path: path, detail: "file shrank while it was packed")
                }
                try writer.write(UnsafeRawBufferPointer(rebasing: buffer[0..<readCount]))
                remaining -= Int64(readCount)
            }
        }
        try writer.write([UInt8](repeating: 0, count: TarHeader.paddingByteCount(after: byteCount)))
        summary.fileCount += 1
        summary.byteCount += byteCount
    }

    /// Two zero blocks end a tar archive.
    func finish() throws {
        try writer.write([UInt8](repeating: 0, count: 2 * TarHeader.blockByteCount))
        try writer.finish()
    }
}

/// Reads ustar (and GNU/pax extended) entries from a gzip stream into a staging folder.
struct TarExtractor {
    let reader: GzipFileReader
    let stagingPath: String
    var summary = FixtureArchive.Summary()
    private var buffer = [UInt8](repeating: 0, count: streamBufferByteCount)
    private var bufferedRange = 0..<0
    private var directoryTimes: [(path: String, seconds: Int64)] = []

    init(reader: GzipFileReader, stagingPath: String) {
        self.reader = reader
        self.stagingPath = stagingPath
    }

    mutating func extractAll() throws {
        var pendingLongName: String?
        var pendingPax: [String: String] = [:]
        while true {
            guard let block = try readBlock() else { break }
            if block.allSatisfy({ $0 == 0 }) { break }
            let header = try TarHeader(block: block, archivePath: reader.path)
            switch header.type {
            case .gnuLongName:
                let data = try readPayload(byteCount: header.byteCount, limit: 65_536)
                pendingLongName = String(decoding: data.prefix { $0 != 0 }, as: UTF8.self)
                continue
            case .paxExtended:
                pendingPax = TarHeader.paxRecords(try readPayload(byteCount: header.byteCount, limit: 1 << 20))
                continue
            case .paxGlobal:
                _ = try readPayload(byteCount: header.byteCount, limit: 1 << 20)
                continue
            default:
                break
            }
            let name = pendingPax["path"] ?? pendingLongName ?? header.name
            let modificationSeconds = pendingPax["mtime"].flatMap { Int64($0.prefix { $0 != "." }) } ?? header.modificationSeconds
            let byteCount = pendingPax["size"].flatMap { Int64($0) } ?? header.byteCount
            pendingLongName = nil
            pendingPax = [:]
            guard let relativePath = try Self.safeRelativePath(name) else {
                try skip(byteCount: byteCount)
                continue
            }
            let path = "\(stagingPath)/\(relativePath)"
            switch header.type {
            case .directory:
                try FileSystem.makeDirectories(path)
                directoryTimes.append((path, modificationSeconds))
                summary.directoryCount += 1
            case .regularFile:
                if let slash = relativePath.lastIndex(of: "/") {
                    try FileSystem.makeDirectories("\(stagingPath)/\(relativePath[..<slash])")
                }
                try extractFile(to: path, byteCount: byteCount, modificationSeconds: modificationSeconds)
                summary.fileCount += 1
                summary.byteCount += byteCount
            default:
                try skip(byteCount: byteCount)
                summary.skippedEntryCount += 1
            }
        }
        // Read to the end of the gzip stream, so its CRC and length are checked even when the
        // damage lies after the tar end marker.
        bufferedRange = 0..<0
        while try refill() {}
        // Deepest first, so setting a child's time does not move its parent's again.
        for directory in directoryTimes.sorted(by: { $0.path.count > $1.path.count }) {
            try FileSystem.setModificationTime(of: directory.path, seconds: directory.seconds)
        }
    }

    /// The entry's path without leading `./`; nil for the archive root itself; throws when the
    /// path is absolute or climbs out with `..`.
    static func safeRelativePath(_ name: String) throws -> String? {
        guard !name.hasPrefix("/") else { throw FixtureArchiveError.unsafeEntryPath(name) }
        let components = name.split(separator: "/", omittingEmptySubsequences: true).filter { $0 != "." }
        guard !components.contains("..") else { throw FixtureArchiveError.unsafeEntryPath(name) }
        return components.isEmpty ? nil : components.joined(separator: "/")
    }

    private mutating func extractFile(to path: String, byteCount: Int64, modificationSeconds: Int64) throws {
        unlink(path)
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw FixtureArchiveError.fileSystem(path: path, operation: "create", code: errno) }
        defer { close(descriptor) }
        var remaining = byteCount
        while remaining > 0 {
            let chunk = try takeBuffered(maximum: Int(min(remaining, Int64(streamBufferByteCount))))
            try chunk.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = posixWrite(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        throw FixtureArchiveError.fileSystem(path: path, operation: "write", code: errno)
                    }
                    offset += written
                }
            }
            remaining -= Int64(chunk.count)
        }
        try skip(byteCount: Int64(TarHeader.paddingByteCount(after: byteCount)))
        var times = [timespec(tv_sec: Int(modificationSeconds), tv_nsec: 0),
                     timespec(tv_sec: Int(modificationSeconds), tv_nsec: 0)]
        guard futimens(descriptor, &times) == 0 else {
            throw FixtureArchiveError.fileSystem(path: path, operation: "set modification time of", code: errno)
        }
    }

    /// The next 512-byte block, or nil when the data ends exactly at a block boundary.
    private mutating func readBlock() throws -> [UInt8]? {
        if bufferedRange.isEmpty, try !refill() { return nil }
        var block: [UInt8] = []
        block.reserveCapacity(TarHeader.blockByteCount)
        while block.count < TarHeader.blockByteCount {
            let chunk = try takeBuffered(maximum: TarHeader.blockByteCount - block.count)
            block += chunk
        }
        return block
    }

    /// An entry's data plus its padding, for the small metadata entries (long names, pax).
    private mutating func readPayload(byteCount: Int64, limit: Int64) throws -> [UInt8] {
        guard byteCount <= limit else {
            throw FixtureArchiveError.corruptArchive(path: reader.path, detail: "metadata entry of \(byteCount) bytes")
        }
        var payload: [UInt8] = []
        while payload.count < byteCount {
            payload += try takeBuffered(maximum: Int(byteCount) - payload.count)
        }
        try skip(byteCount: Int64(TarHeader.paddingByteCount(after: byteCount)))
        return payload
    }

    private mutating func skip(byteCount: Int64) throws {
        var remaining = byteCount
        while remaining > 0 {
            remaining -= Int64(try takeBuffered(maximum: Int(min(remaining, Int64(streamBufferByteCount)))).count)
        }
    }

    /// Up to `maximum` buffered bytes (at least one); throws when the archive ends first.
    private mutating func takeBuffered(maximum: Int) throws -> ArraySlice<UInt8> {
        if bufferedRange.isEmpty, try !refill() {
            throw FixtureArchiveError.truncatedArchive(path: reader.path, detail: "the archive ends inside an entry")
        }
        let end = bufferedRange.lowerBound + min(maximum, bufferedRange.count)
        let chunk = buffer[bufferedRange.lowerBound..<end]
        bufferedRange = end..<bufferedRange.upperBound
        return chunk
    }

    private mutating func refill() throws -> Bool {
        let reader = self.reader
        let readCount = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
        bufferedRange = 0..<readCount
        return readCount > 0
    }
}
