import ForwarderCore
import Foundation

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
    static func forEachLine(in path: String,
                            _ body: (_ line: UnsafeBufferPointer<UInt8>, _ offset: Int, _ terminated: Bool) throws -> Bool) throws {
        let handle = try open(path)
        defer { try? handle.close() }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(blockByteCount * 2)
        var bufferOffset = 0
        while true {
            let block: Data
            do {
                block = try handle.read(upToCount: blockByteCount) ?? Data()
            } catch {
                throw unreadable(path, error)
            }
            let atEnd = block.isEmpty
            buffer.append(contentsOf: block)
            var consumed = 0
            let stopped = try buffer.withUnsafeBufferPointer { bytes -> Bool in
                guard let base = bytes.baseAddress else { return false }
                while consumed < bytes.count,
                      let newline = memchr(base + consumed, 0x0A, bytes.count - consumed) {
                    let end = UnsafeRawPointer(newline).assumingMemoryBound(to: UInt8.self) - base
                    let line = UnsafeBufferPointer(rebasing: bytes[consumed..<end])
                    guard try body(line, bufferOffset + consumed, true) else { return true }
                    consumed = end + 1
                }
                if atEnd, consumed < bytes.count {
                    _ = try body(UnsafeBufferPointer(rebasing: bytes[consumed...]), bufferOffset + consumed, false)
                }
                return false
            }
            if stopped || atEnd { return }
            buffer.removeFirst(consumed)
            bufferOffset += consumed
        }
    }

    /// Parses a snapshot or journal line by line into `add`; returns how many lines it held and
    /// how many leading bytes are valid.
    ///
    /// Only a journal may end in a torn line (no newline) or a run of NUL bytes, which is what a
    /// crash or power cut mid-append leaves; anywhere else a bad line is corruption.
    static func parse(_ path: String, isJournal: Bool,
                      into add: (StateLine) -> Void) throws -> (records: Int, validBytes: Int) {
        var count = 0
        var lineNumber = 0
        var validBytes = 0
        /// Set at a line that does not parse in a journal: the rest must be NUL bytes and
        /// newlines (a power cut's tail), or this is thrown.
        var failureUnlessBlank: StateFileError?
        try forEachLine(in: path) { line, offset, terminated in
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
            guard let record = StateRecordCodec.decodeLine(line) else {
                let failure = StateFileError(path: path, kind: .corruptLine(lineNumber),
                                             detail: "line \(lineNumber) is not a valid record")
                guard isJournal else { throw failure }
                failureUnlessBlank = failure
                return false
            }
            add(record)
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
