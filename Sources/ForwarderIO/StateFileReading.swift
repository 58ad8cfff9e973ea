import ForwarderCore
import Foundation

/// Reading a state snapshot or journal: whole files, line counts, and the line-by-line parse
/// that tells a crash's torn tail from damage.
enum StateFileReading {
    static func read(_ path: String) throws -> Data {
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            var isFolder: ObjCBool = false
            let detail = FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && isFolder.boolValue
                ? "it is a folder, not a file" : "cannot read it (\(error.localizedDescription))"
            throw StateFileError(path: path, kind: .unreadable, detail: detail)
        }
    }

    /// How many lines `contents` holds, an upper bound on its records.
    ///
    /// Reserving that much before parsing spares the record dictionary its growth: rehashing
    /// every record at each doubling took a third of the load time of a million records.
    static func lineCount(of contents: Data) -> Int {
        contents.withUnsafeBytes { raw in
            guard var cursor = raw.baseAddress else { return 0 }
            let end = cursor + raw.count
            var count = 0
            while cursor < end, let newline = memchr(cursor, 0x0A, end - cursor) {
                count += 1
                cursor = UnsafeRawPointer(newline) + 1
            }
            return count
        }
    }

    static func parse(_ contents: Data, path: String, isJournal: Bool,
                              into add: (StateLine) -> Void) throws -> (records: Int, validBytes: Int) {
        try contents.withUnsafeBytes { raw -> (Int, Int) in
            let bytes = raw.bindMemory(to: UInt8.self)
            let newline = UInt8(ascii: "\n")
            guard let headerEnd = bytes.firstIndex(of: newline),
                  StateRecordCodec.readableHeaders.contains(
                      String(decoding: UnsafeBufferPointer(rebasing: bytes[..<headerEnd]), as: UTF8.self)
                          .trimmingCharacters(in: .whitespaces)) else {
                // A journal torn while its header was being written holds no records yet.
                if isJournal, bytes.firstIndex(of: newline) == nil || bytes.allSatisfy({ $0 == 0 }) {
                    return (0, 0)
                }
                let firstLine = String(decoding: bytes.prefix(60), as: UTF8.self)
                    .split(separator: "\n").first.map(String.init) ?? ""
                let formatName = "BLASTWARE-FORWARDER-STATE "
                let version = String(firstLine.dropFirst(formatName.count)).trimmingCharacters(in: .whitespaces)
                if firstLine.hasPrefix(formatName), !version.isEmpty,
                   version.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) }) {
                    throw StateFileError(path: path, kind: .unsupportedVersion(version),
                                         detail: "it is version \(version) of the state format, written by another "
                                             + "release of the forwarder; this release reads versions "
                                             + StateRecordCodec.readableVersions)
                }
                throw StateFileError(path: path, kind: .unknownFormat,
                                     detail: "its first line is \(firstLine.debugDescription), not \"\(StateRecordCodec.header)\"")
            }
            var count = 0
            var lineStart = headerEnd + 1
            var lineNumber = 1
            while lineStart < bytes.count {
                lineNumber += 1
                guard let lineEnd = UnsafeBufferPointer(rebasing: bytes[lineStart...]).firstIndex(of: newline)
                        .map({ $0 + lineStart }) else {
                    if isJournal { return (count, lineStart) }
                    throw StateFileError(path: path, kind: .corruptLine(lineNumber), detail: "the last line is cut short")
                }
                let line = UnsafeBufferPointer(rebasing: bytes[lineStart..<lineEnd])
                guard let record = StateRecordCodec.decodeLine(line) else {
                    let rest = UnsafeBufferPointer(rebasing: bytes[lineStart...])
                    if isJournal, rest.allSatisfy({ $0 == 0 || $0 == newline }) { return (count, lineStart) }
                    throw StateFileError(path: path, kind: .corruptLine(lineNumber),
                                         detail: "line \(lineNumber) is not a valid record")
                }
                add(record)
                count += 1
                lineStart = lineEnd + 1
            }
            return (count, bytes.count)
        }
    }
}
