import ForwarderCore
import Foundation
import NIOCore

/// Reads an import body into files, refusing anything the SFM endpoint would refuse.
///
/// Framing is `MultipartFraming` (multipart-kit's verdicts, read faster); this type only adds
/// what the contract says on top: a `multipart/form-data` content type with a boundary, every
/// part in field `files` with a plain file name, and every name either an event binary or a
/// report.
enum UploadReader {
    static func read(contentType: String?, body: ByteBuffer) throws(MockRejection) -> [ReceivedFile] {
        let boundary = try boundary(of: contentType)
        guard !hasNonASCIIHeaderBlock(body, boundary: boundary) else {
            throw MockRejection(status: 400, detail: "malformed multipart body (a part's headers are not ASCII)")
        }
        let parts = try MultipartFraming.parts(of: body, boundary: boundary)
        return try parts.map { part throws(MockRejection) in try file(from: part) }
    }

    /// The files of a request handed over in process, checked by the same rules as parsed parts.
    ///
    /// The in-process simulation skips the multipart round trip, which in debug builds costs
    /// more than everything else in a simulated pass.
    static func read(_ request: ImportRequest) throws(MockRejection) -> [ReceivedFile] {
        var files = [(request.binary, "application/octet-stream")]
        if let report = request.report { files.append((report, "text/plain")) }
        return try files.map { file, contentType throws(MockRejection) in
            let disposition = "form-data; name=\"\(MockContract.fileFieldName)\"; filename=\"\(file.name)\""
            let part = MultipartFraming.Part(headers: [MockHeader("Content-Disposition", disposition),
                                                       MockHeader("Content-Type", contentType)],
                                             body: file.contents)
            return try Self.file(from: part)
        }
    }

    /// The boundary of a `multipart/form-data` content type.
    static func boundary(of contentType: String?) throws(MockRejection) -> String {
        guard let contentType else {
            throw MockRejection(status: 415, detail: "missing Content-Type; expected multipart/form-data")
        }
        let pieces = HeaderParameters(contentType)
        guard pieces.value.lowercased() == "multipart/form-data" else {
            throw MockRejection(status: 415, detail: "Content-Type \(pieces.value) is not multipart/form-data")
        }
        guard let boundary = pieces["boundary"], !boundary.isEmpty, boundary.utf8.count <= 200 else {
            throw MockRejection(status: 400, detail: "multipart/form-data without a boundary")
        }
        return boundary
    }

    private static func file(from part: MultipartFraming.Part) throws(MockRejection) -> ReceivedFile {
        guard let disposition = part.headers.first(where: { $0.name.lowercased() == "content-disposition" }) else {
            throw MockRejection(status: 400, detail: "a part has no Content-Disposition header")
        }
        let parameters = HeaderParameters(disposition.value)
        guard parameters.value.lowercased() == "form-data" else {
            throw MockRejection(status: 400, detail: "a part's Content-Disposition is not form-data")
        }
        guard parameters["name"] == MockContract.fileFieldName else {
            throw MockRejection(status: 400,
                                detail: "unexpected form field \"\(parameters["name"] ?? "")\"; files go in \"\(MockContract.fileFieldName)\"")
        }
        guard let name = parameters["filename"], !name.isEmpty else {
            throw MockRejection(status: 400, detail: "a part in \"files\" has no filename")
        }
        guard isPlainFileName(name) else {
            throw MockRejection(status: 400, detail: "filename \"\(name)\" is not a plain file name")
        }
        let role: ReceivedFile.Role
        if SimReportNames.looksLikeEventBinary(name) {
            role = .binary(SimEventName(parsing: name))
        } else if SimReportNames.isReport(name) {
            role = .report
        } else {
            throw MockRejection(status: 400, detail: "\(name) is neither a Blastware event binary nor a report")
        }
        let contentType = part.headers.first { $0.name.lowercased() == "content-type" }?.value
        return ReceivedFile(name: name, contentType: contentType, contents: part.body,
                            digest: EventDigest(of: part.body), role: role)
    }

    /// True when the bytes after any `--boundary` up to the next blank line (where a part's
    /// headers are) hold a byte above 0x7F.
    ///
    /// multipart-kit 4.7.1, which the mock's framing replaced and is held to, looks each
    /// header-name byte up in a 128-entry table and stops the process on any higher byte (found
    /// by `scripts/fuzz MockMultipart`); the scan came first so that it never did, and stays so
    /// that the mock refuses what it refused before, with the same detail. Header names are
    /// ASCII tokens, so refusing such a block first loses nothing; scanning after every
    /// occurrence of the boundary, not only those the parser takes, covers every header block.
    static func hasNonASCIIHeaderBlock(_ body: ByteBuffer, boundary: String) -> Bool {
        let delimiter = Array("--\(boundary)".utf8)
        return body.withUnsafeReadableBytes { raw in
            guard let base = raw.baseAddress, raw.count >= delimiter.count else { return false }
            let bytes = raw.bindMemory(to: UInt8.self)
            func isBlankLine(at index: Int) -> Bool {
                index + 4 <= bytes.count && bytes[index] == 0x0D && bytes[index + 1] == 0x0A
                    && bytes[index + 2] == 0x0D && bytes[index + 3] == 0x0A
            }
            // Candidates are found with memchr on the delimiter's first byte (`-`, rare in binary
            // content) and compared with memcmp: one closure per byte was 7 % of the mock's CPU.
            let lastStart = bytes.count - delimiter.count
            var position = 0
            // Blocks that overlap end at the same blank line: each byte is looked at once.
            var scannedThrough = 0
            while position <= lastStart {
                guard let found = memchr(base + position, Int32(delimiter[0]), lastStart - position + 1) else { return false }
                position = base.distance(to: UnsafeRawPointer(found))
                guard memcmp(base + position, delimiter, delimiter.count) == 0 else {
                    position += 1
                    continue
                }
                var index = max(position + delimiter.count, scannedThrough)
                while index < bytes.count, !isBlankLine(at: index) {
                    if bytes[index] > 0x7F { return true }
                    index += 1
                }
                scannedThrough = index
                position += 1
            }
            return false
        }
    }

    /// True for a name without directories, parent references or control characters.
    ///
    /// An ASCII name (every name the forwarder sends) is checked byte by byte: Foundation's
    /// substring search, which the other names still go through, was 2 % of the mock's CPU.
    static func isPlainFileName(_ name: String) -> Bool {
        if let plain = isPlainASCIIFileName(name) { return plain }
        return !name.contains("/") && !name.contains("\\") && !name.contains("..") && name != "."
            && !name.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
            && !name.hasPrefix(".") && !name.contains(":")
    }

    /// `isPlainFileName` for an ASCII name, where a substring is a byte sequence; nil for any
    /// other name.
    private static func isPlainASCIIFileName(_ name: String) -> Bool? {
        // Only once every byte is known to be ASCII: in other names a combining mark after `.`
        // or `/` makes Foundation's search miss it.
        guard name.utf8.allSatisfy({ $0 < 0x80 }) else { return nil }
        var previous: UInt8 = 0
        for byte in name.utf8 {
            switch byte {
            case ..<0x20, 0x7F, UInt8(ascii: "/"), UInt8(ascii: "\\"), UInt8(ascii: ":"): return false
            case UInt8(ascii: ".") where previous == UInt8(ascii: "."): return false
            default: previous = byte
            }
        }
        return name.utf8.first != UInt8(ascii: ".")
    }
}

/// A header value such as `form-data; name="files"; filename="A.TXT"` taken apart.
///
/// Quoted values may contain `;` and `=` and backslash escapes, which splitting on `;` and `=`
/// would break; parameter names are matched without regard to case. An ASCII value (every
/// header that came over the socket: non-ASCII header blocks are refused first) is taken apart
/// byte by byte; anything else scalar by scalar, with Unicode whitespace trimmed, by the same
/// steps.
struct HeaderParameters {
    let value: String
    private let parameters: [(name: String, value: String)]

    init(_ header: String) {
        (value, parameters) = Self.parseASCII(header) ?? Self.parseScalars(header)
    }

    subscript(name: String) -> String? {
        let wanted = name.lowercased()
        return parameters.first { $0.name == wanted }?.value
    }

    /// The byte-by-byte reading of an ASCII header; nil when a byte is not ASCII.
    static func parseASCII(_ header: String) -> (String, [(name: String, value: String)])? {
        var header = header
        return header.withUTF8 { bytes -> (String, [(name: String, value: String)])? in
            guard !bytes.contains(where: { $0 >= 0x80 }) else { return nil }
            let (space, tab, semicolon, equals, quote, backslash): (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
                (0x20, 0x09, 0x3B, 0x3D, 0x22, 0x5C)
            var index = 0
            func skipSpaces() { while index < bytes.count, bytes[index] == space || bytes[index] == tab { index += 1 } }
            func token(until stop: UInt8, or otherStop: UInt8? = nil) -> String {
                let start = index
                while index < bytes.count, bytes[index] != stop, bytes[index] != otherStop { index += 1 }
                var lower = start
                var upper = index
                while lower < upper, bytes[lower] == space || bytes[lower] == tab { lower += 1 }
                while upper > lower, bytes[upper - 1] == space || bytes[upper - 1] == tab { upper -= 1 }
                return String(decoding: UnsafeBufferPointer(rebasing: bytes[lower..<upper]), as: UTF8.self)
            }
            let value = token(until: semicolon)
            var parsed: [(name: String, value: String)] = []
            while index < bytes.count, bytes[index] == semicolon {
                index += 1
                skipSpaces()
                let name = token(until: equals, or: semicolon).lowercased()
                var parameterValue = ""
                if index < bytes.count, bytes[index] == equals {
                    index += 1
                    skipSpaces()
                    if index < bytes.count, bytes[index] == quote {
                        index += 1
                        var text: [UInt8] = []
                        while index < bytes.count {
                            let byte = bytes[index]
                            index += 1
                            if byte == quote { break }
                            if byte == backslash, index < bytes.count {
                                text.append(bytes[index])
                                index += 1
                            } else {
                                text.append(byte)
                            }
                        }
                        parameterValue = String(decoding: text, as: UTF8.self)
                        _ = token(until: semicolon)
                    } else {
                        parameterValue = token(until: semicolon)
                    }
                }
                if !name.isEmpty { parsed.append((name, parameterValue)) }
            }
            return (value, parsed)
        }
    }

    /// The scalar-by-scalar reading, for headers that are not ASCII.
    static func parseScalars(_ header: String) -> (String, [(name: String, value: String)]) {
        var scalars = Substring(header).unicodeScalars[...]
        func skipSpaces() { while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() } }
        func token(until stops: Set<Unicode.Scalar>) -> String {
            var text = String.UnicodeScalarView()
            while let first = scalars.first, !stops.contains(first) { text.append(scalars.removeFirst()) }
            return String(text).trimmingCharacters(in: .whitespaces)
        }
        let value = token(until: [";"])
        var parsed: [(name: String, value: String)] = []
        while scalars.first == ";" {
            scalars.removeFirst()
            skipSpaces()
            let name = token(until: ["=", ";"]).lowercased()
            var parameterValue = ""
            if scalars.first == "=" {
                scalars.removeFirst()
                skipSpaces()
                if scalars.first == "\"" {
                    scalars.removeFirst()
                    var text = String.UnicodeScalarView()
                    while let scalar = scalars.first {
                        scalars.removeFirst()
                        if scalar == "\"" { break }
                        if scalar == "\\", let escaped = scalars.first {
                            scalars.removeFirst()
                            text.append(escaped)
                        } else {
                            text.append(scalar)
                        }
                    }
                    parameterValue = String(text)
                    _ = token(until: [";"])
                } else {
                    parameterValue = token(until: [";"])
                }
            }
            if !name.isEmpty { parsed.append((name, parameterValue)) }
        }
        return (value, parsed)
    }
}
