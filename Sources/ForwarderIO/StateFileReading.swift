import ForwarderCore
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading a state snapshot or journal: in blocks, line by line, telling a crash's torn tail
/// from damage.
///
/// Files are read a block at a time rather than whole: a million-record snapshot is 140 MB,
/// more than the records take once packed, and holding both doubled the peak memory of `status`.
enum StateFileReading {
    /// Bytes read per `read` call.
    static let blockByteCount = 1 << 20

    static func read(_ path: String) throws -> Data {
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw unreadable(path, error)
        }
    }

    /// The file's size in bytes.
    static func byteCount(of path: String) throws -> Int {
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            return (attributes[.size] as? NSNumber)?.intValue ?? 0
        } catch {
            throw unreadable(path, error)
        }
    }

    /// The file's first `count` bytes (fewer when it is shorter).
    static func prefix(of path: String, count: Int) throws -> Data {
        let handle = try open(path)
        defer { try? handle.close() }
        do {
            return try handle.read(upToCount: count) ?? Data()
        } catch {
            throw unreadable(path, error)
        }
    }

    /// What a file's lines need once loaded: how many there are, an upper bound on its records,
    /// and the bytes of their last fields, an upper bound on the bytes of their names.
    ///
    /// Reserving that much before parsing spares the record table its growth, which would
    /// briefly hold the old and the new copy.
    static func extent(of path: String) throws -> (lines: Int, lastFieldBytes: Int) {
        var lines = 0
        var lastFieldBytes = 0
        try forEachLine(in: path) { line, _, _ in
            lines += 1
            var start = line.count
            while start > 0, line[start - 1] != UInt8(ascii: "\t") { start -= 1 }
            lastFieldBytes += line.count - start + 1
            return true
        }
        return (lines, lastFieldBytes)
    }

    /// Calls `body` with each line of the file (without its newline), the line's offset in the
    /// file, and whether a newline ended it (only the last line may lack one); stops when
    /// `body` returns false.
    ///
    /// Blocks are read with `read(2)` straight into the buffer the lines are cut from, so each
    /// byte is copied once from the page cache.
    ///
    /// `blockEnd` is called after the lines of each block, before their bytes are moved:
    /// lines kept past it are no longer valid.
    static func forEachLine(in path: String, blockEnd: () -> Void = {},
                            _ body: (_ line: UnsafeBufferPointer<UInt8>, _ offset: Int, _ terminated: Bool) throws -> Bool) throws {
        let descriptor = try openDescriptor(path)
        defer { close(descriptor) }
        var buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: blockByteCount * 2, alignment: 16)
        defer { buffer.deallocate() }
        var bufferOffset = 0
        var held = 0
        while true {
            if buffer.count - held < blockByteCount {
                // A line longer than a block: rare (a huge last error), so grow rather than refuse it.
                let larger = UnsafeMutableRawBufferPointer.allocate(byteCount: buffer.count * 2, alignment: 16)
                larger.copyMemory(from: UnsafeRawBufferPointer(rebasing: buffer[..<held]))
                buffer.deallocate()
                buffer = larger
            }
            guard let base = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
            let readCount = systemRead(descriptor, base + held, buffer.count - held)
            if readCount < 0 {
                if errno == EINTR { continue }
                throw StateFileError(path: path, kind: .unreadable,
                                     detail: "cannot read it (\(String(cString: strerror(errno))))", errorNumber: errno)
            }
            let atEnd = readCount == 0
            held += readCount
            var consumed = 0
            while consumed < held, let newline = memchr(base + consumed, 0x0A, held - consumed) {
                let end = UnsafeMutableRawPointer(base).distance(to: newline)
                guard try body(UnsafeBufferPointer(start: base + consumed, count: end - consumed), bufferOffset + consumed, true) else {
                    blockEnd()
                    return
                }
                consumed = end + 1
            }
            if atEnd {
                if consumed < held {
                    _ = try body(UnsafeBufferPointer(start: base + consumed, count: held - consumed), bufferOffset + consumed, false)
                }
                blockEnd()
                return
            }
            blockEnd()
            memmove(base, base + consumed, held - consumed)
            held -= consumed
            bufferOffset += consumed
        }
    }

    /// Parses a snapshot or journal line by line, accepted records into `accept` (their fields,
    /// names still in the file's bytes) and the other lines into `add`; returns how many lines
    /// it held and how many leading bytes are valid.
    ///
    /// Only a journal may end in a torn line (no newline) or a run of NUL bytes, which is what a
    /// crash or power cut mid-append leaves; anywhere else a bad line is corruption.
    static func parse(_ path: String, isJournal: Bool, accept: (UnsafeBufferPointer<ForwardRecordFields>) -> Void,
                      add: (StateLine) -> Void) throws -> (records: Int, validBytes: Int) {
        // Accepted records are handed over a batch at a time (`CompactRecordTable.store(contentsOf:)`),
        // before any other line and before their block's bytes move.
        let batchCapacity = 32
        let batch = UnsafeMutableBufferPointer<ForwardRecordFields>.allocate(capacity: batchCapacity)
        defer { batch.deallocate() }
        var batchCount = 0
        func flush() {
            if batchCount > 0 { accept(UnsafeBufferPointer(rebasing: batch[..<batchCount])) }
            batchCount = 0
        }
        var count = 0
        var lineNumber = 0
        var validBytes = 0
        /// Set at a line that does not parse in a journal: the rest must be NUL bytes and
        /// newlines (a power cut's tail), or this is thrown.
        var failureUnlessBlank: StateFileError?
        try forEachLine(in: path, blockEnd: flush) { line, offset, terminated in
            lineNumber += 1
            if lineNumber == 1 {
                if !terminated {
                    // A journal torn while its header was being written holds no records yet.
                    if isJournal { return false }
                    throw try headerFailure(line, path: path)
                        ?? StateFileError(path: path, kind: .corruptLine(1), detail: "the last line is cut short")
                }
                if let headerFailure = try headerFailure(line, path: path) {
                    guard isJournal else { throw headerFailure }
                    failureUnlessBlank = headerFailure
                    return false
                }
                validBytes = offset + line.count + 1
                return true
            }
            guard terminated else {
                if isJournal { return false }
                throw StateFileError(path: path, kind: .corruptLine(lineNumber), detail: "the last line is cut short")
            }
            let decoded: Bool
            if StateRecordCodec.isAcceptedLine(line) {
                let fields = StateRecordCodec.decodeFields(line)
                if let fields {
                    (batch.baseAddress! + batchCount).initialize(to: fields)
                    batchCount += 1
                    if batchCount == batchCapacity { flush() }
                }
                decoded = fields != nil
            } else {
                let other = StateRecordCodec.decodeLine(line)
                flush()
                if let other { add(other) }
                decoded = other != nil
            }
            guard decoded else {
                let failure = StateFileError(path: path, kind: .corruptLine(lineNumber),
                                             detail: "line \(lineNumber) is not a valid record")
                guard isJournal else { throw failure }
                failureUnlessBlank = failure
                return false
            }
            count += 1
            validBytes = offset + line.count + 1
            return true
        }
        if lineNumber == 0, !isJournal, let emptyFailure = try headerFailure(UnsafeBufferPointer(start: nil, count: 0), path: path) {
            throw emptyFailure
        }
        if let failureUnlessBlank, try !restIsBlank(path, from: validBytes) { throw failureUnlessBlank }
        return (count, validBytes)
    }

    /// Loads a format-5 snapshot with `read(2)` straight into the record table, sized for
    /// `spare` more records and name bytes (the journal's).
    static func readBinarySnapshot(_ path: String, spare: (records: Int, nameBytes: Int)) throws -> BinaryStateSnapshot.Decoded {
        let descriptor = try openDescriptor(path)
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw StateFileError(path: path, kind: .unreadable,
                                 detail: "cannot read it (\(String(cString: strerror(errno))))", errorNumber: errno)
        }
        do {
            return try BinaryStateSnapshot.decode(byteCount: Int(status.st_size), spare: spare) { buffer in
                var filled = 0
                while filled < buffer.count {
                    let readCount = systemRead(descriptor, buffer.baseAddress!.assumingMemoryBound(to: UInt8.self) + filled,
                                               buffer.count - filled)
                    if readCount < 0, errno == EINTR { continue }
                    guard readCount >= 0 else {
                        throw StateFileError(path: path, kind: .unreadable,
                                             detail: "cannot read it (\(String(cString: strerror(errno))))", errorNumber: errno)
                    }
                    guard readCount > 0 else {
                        throw StateFileError(path: path, kind: .corruptSnapshot,
                                             detail: "it ended at byte \(filled) of a section while being read (did it change?)")
                    }
                    filled += readCount
                }
            }
        } catch let damage as BinaryStateSnapshot.Damage {
            throw StateFileError(path: path, kind: .corruptSnapshot, detail: "damaged format-5 snapshot: \(damage)")
        }
    }

    /// Whether everything from `offset` on is NUL bytes and newlines.
    private static func restIsBlank(_ path: String, from offset: Int) throws -> Bool {
        var blank = true
        try forEachLine(in: path) { line, lineOffset, _ in
            guard lineOffset >= offset else { return true }
            blank = line.allSatisfy { $0 == 0 }
            return blank
        }
        return blank
    }

    /// Why `line`, the first of a file, is not a header this release reads; nil when it is.
    ///
    /// The message quotes the file's first 60 bytes up to a newline, so a Windows line end
    /// shows as `\r\n`.
    private static func headerFailure(_ line: UnsafeBufferPointer<UInt8>, path: String) throws -> StateFileError? {
        let header = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespaces)
        if StateRecordCodec.readableHeaders.contains(header) { return nil }
        let firstLine = String(decoding: try prefix(of: path, count: 60), as: UTF8.self)
            .split(separator: "\n").first.map(String.init) ?? ""
        let formatName = "BLASTWARE-FORWARDER-STATE "
        let version = String(firstLine.dropFirst(formatName.count)).trimmingCharacters(in: .whitespaces)
        if firstLine.hasPrefix(formatName), !version.isEmpty,
           version.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) }) {
            return StateFileError(path: path, kind: .unsupportedVersion(version),
                                  detail: "it is version \(version) of the state format, written by another "
                                      + "release of the forwarder; this release reads versions "
                                      + StateRecordCodec.readableVersions)
        }
        return StateFileError(path: path, kind: .unknownFormat,
                              detail: "its first line is \(firstLine.debugDescription), not \"\(StateRecordCodec.header)\"")
    }

    /// Opens `path` for reading with `open(2)`, refusing a folder by name.
    private static func openDescriptor(_ path: String) throws -> Int32 {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            throw StateFileError(path: path, kind: .unreadable, detail: "it is a folder, not a file")
        }
        let descriptor = systemOpen(path)
        guard descriptor >= 0 else {
            throw StateFileError(path: path, kind: .unreadable,
                                 detail: "cannot read it (\(String(cString: strerror(errno))))", errorNumber: errno)
        }
        return descriptor
    }

    private static func open(_ path: String) throws -> FileHandle {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            throw StateFileError(path: path, kind: .unreadable, detail: "it is a folder, not a file")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw StateFileError(path: path, kind: .unreadable,
                                 detail: "cannot read it (\(String(cString: strerror(errno))))")
        }
        return handle
    }

    private static func unreadable(_ path: String, _ error: any Error) -> StateFileError {
        var isFolder: ObjCBool = false
        let detail = FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && isFolder.boolValue
            ? "it is a folder, not a file" : "cannot read it (\(error.localizedDescription))"
        return StateFileError(path: path, kind: .unreadable, detail: detail)
    }
}

/// `read(2)`, out of `StateFileReading`, whose own `read` hides it.
private func systemRead(_ descriptor: Int32, _ buffer: UnsafeMutablePointer<UInt8>, _ count: Int) -> Int {
    read(descriptor, buffer, count)
}

/// `open(2)` for reading, out of `StateFileReading`, whose own `open` hides it.
private func systemOpen(_ path: String) -> Int32 {
    open(path, O_RDONLY | O_CLOEXEC)
}
