import CZlib
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why packing or unpacking a fixture archive failed.
public enum FixtureArchiveError: Error, Equatable, CustomStringConvertible, Sendable {
    /// The archive's bytes are not a valid gzip-compressed tar archive.
    case corruptArchive(path: String, detail: String)
    /// The archive ends before its compressed stream or an entry does.
    case truncatedArchive(path: String, detail: String)
    /// An entry would land outside the target folder (absolute path or `..`).
    case unsafeEntryPath(String)
    /// Something the packer cannot store, such as a link, a device or an over-long name.
    case unsupportedEntry(path: String, detail: String)
    /// A file-system call failed.
    case fileSystem(path: String, operation: String, code: Int32)
    /// zlib refused to start or finish a stream.
    case compression(detail: String)

    public var description: String {
        switch self {
        case .corruptArchive(let path, let detail): return "\(path): corrupt archive: \(detail)"
        case .truncatedArchive(let path, let detail): return "\(path): truncated archive: \(detail)"
        case .unsafeEntryPath(let path): return "refusing archive entry '\(path)': absolute or contains '..'"
        case .unsupportedEntry(let path, let detail): return "\(path): \(detail)"
        case .fileSystem(let path, let operation, let code): return "\(operation) \(path): \(String(cString: strerror(code)))"
        case .compression(let detail): return "zlib: \(detail)"
        }
    }
}

/// Size of every streaming buffer: memory stays constant whatever the archive's size.
let streamBufferByteCount = 64 * 1024

/// Compresses bytes into a gzip file (deflate with window bits 15 + 16 selects the gzip wrapper).
///
/// The `z_stream` lives at a fixed heap address because zlib keeps a pointer back to it and
/// rejects a stream that has moved.
final class GzipFileWriter {
    private let descriptor: Int32
    private let path: String
    private let stream: UnsafeMutablePointer<z_stream>
    private let output: UnsafeMutablePointer<UInt8>
    private var isFinished = false

    /// Creates `path` (which must not exist) and starts a gzip stream at `level` (0–9).
    init(path: String, level: Int32) throws {
        self.path = path
        descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw FixtureArchiveError.fileSystem(path: path, operation: "create", code: errno) }
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        output = .allocate(capacity: streamBufferByteCount)
        let status = czlib_deflateInit2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY)
        guard status == Z_OK else {
            close(descriptor)
            stream.deallocate()
            output.deallocate()
            throw FixtureArchiveError.compression(detail: "deflateInit2 failed with \(status)")
        }
    }

    deinit {
        if !isFinished { deflateEnd(stream) }
        stream.deinitialize(count: 1)
        stream.deallocate()
        output.deallocate()
        close(descriptor)
    }

    /// Compresses `bytes` and writes whatever output is ready.
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        stream.pointee.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: UInt8.self))
        stream.pointee.avail_in = uInt(bytes.count)
        while stream.pointee.avail_in > 0 {
            try deflateStep(flush: Z_NO_FLUSH)
        }
    }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Flushes the stream's end (and gzip trailer), writes it and syncs the file.
    func finish() throws {
        var status: Int32 = Z_OK
        while status != Z_STREAM_END {
            status = try deflateStep(flush: Z_FINISH)
        }
        deflateEnd(stream)
        isFinished = true
        guard fsync(descriptor) == 0 else { throw FixtureArchiveError.fileSystem(path: path, operation: "sync", code: errno) }
    }

    @discardableResult
    private func deflateStep(flush: Int32) throws -> Int32 {
        stream.pointee.next_out = output
        stream.pointee.avail_out = uInt(streamBufferByteCount)
        let status = deflate(stream, flush)
        guard status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR else {
            throw FixtureArchiveError.compression(detail: "deflate failed with \(status)")
        }
        let produced = streamBufferByteCount - Int(stream.pointee.avail_out)
        var offset = 0
        while offset < produced {
            let written = posixWrite(descriptor, output + offset, produced - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw FixtureArchiveError.fileSystem(path: path, operation: "write", code: errno)
            }
            offset += written
        }
        return status
    }
}

/// Decompresses a gzip file (inflate with window bits 15 + 32 detects gzip or zlib headers).
///
/// zlib checks the gzip trailer's CRC-32 and length, so a flipped bit anywhere surfaces as a
/// corrupt archive, and a stream that ends before its trailer as a truncated one. Concatenated
/// gzip members are read one after another, as `gzip -d` does.
final class GzipFileReader {
    private let descriptor: Int32
    let path: String
    private let stream: UnsafeMutablePointer<z_stream>
    private let input: UnsafeMutablePointer<UInt8>
    private var isAtEnd = false

    init(path: String) throws {
        self.path = path
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FixtureArchiveError.fileSystem(path: path, operation: "open", code: errno) }
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        input = .allocate(capacity: streamBufferByteCount)
        let status = czlib_inflateInit2(stream, 15 + 32)
        guard status == Z_OK else {
            close(descriptor)
            stream.deallocate()
            input.deallocate()
            throw FixtureArchiveError.compression(detail: "inflateInit2 failed with \(status)")
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
        input.deallocate()
        close(descriptor)
    }

    /// Fills as much of `buffer` as the stream holds; returns 0 only at the end of the data.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard !isAtEnd, let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        stream.pointee.next_out = base.assumingMemoryBound(to: UInt8.self)
        stream.pointee.avail_out = uInt(buffer.count)
        while stream.pointee.avail_out > 0 {
            if stream.pointee.avail_in == 0 {
                let readCount = try refillInput()
                if readCount == 0 {
                    throw FixtureArchiveError.truncatedArchive(path: path, detail: "compressed data ends before the gzip trailer")
                }
            }
            let status = inflate(stream, Z_NO_FLUSH)
            switch status {
            case Z_OK, Z_BUF_ERROR:
                continue
            case Z_STREAM_END:
                if stream.pointee.avail_in == 0, try refillInput() == 0 {
                    isAtEnd = true
                    return buffer.count - Int(stream.pointee.avail_out)
                }
                inflateReset(stream)
            case Z_DATA_ERROR, Z_NEED_DICT:
                let message = stream.pointee.msg.map { String(cString: $0) } ?? "invalid compressed data"
                throw FixtureArchiveError.corruptArchive(path: path, detail: message)
            default:
                throw FixtureArchiveError.compression(detail: "inflate failed with \(status)")
            }
        }
        return buffer.count
    }

    private func refillInput() throws -> Int {
        while true {
            let readCount = posixRead(descriptor, input, streamBufferByteCount)
            if readCount < 0 {
                if errno == EINTR { continue }
                throw FixtureArchiveError.fileSystem(path: path, operation: "read", code: errno)
            }
            stream.pointee.next_in = input
            stream.pointee.avail_in = uInt(readCount)
            return readCount
        }
    }
}

/// The C library's `write`, named apart from the methods above that shadow it.
func posixWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}

/// The C library's `read`, named apart from the methods above that shadow it.
func posixRead(_ descriptor: Int32, _ bytes: UnsafeMutableRawPointer, _ count: Int) -> Int {
    read(descriptor, bytes, count)
}
