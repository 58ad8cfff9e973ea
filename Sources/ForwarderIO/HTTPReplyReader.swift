import Foundation

/// Reads one HTTP/1.1 reply from the bytes a connection delivers, in whatever pieces they come:
/// the status line, the headers the uploader needs, and a body framed by `Content-Length`,
/// by chunks, or by the server closing the connection.
///
/// The uploader posts one request and reads one short reply per exchange, so a reader of its
/// own replaces NIO's general HTTP codec and its per-request allocations (over a quarter of the
/// forwarder's CPU per upload). It refuses what it does not understand rather than guess: any
/// such reply is a retryable transport failure to the forwarder, as it was with the codec.
struct HTTPReplyReader {
    /// A complete reply.
    struct Reply: Sendable {
        var status: Int
        /// The first `Retry-After` header's value, as sent.
        var retryAfter: String?
        var body: [UInt8]
        /// False when the connection cannot carry another request: the server asked to close
        /// it, the body ran to the close, or bytes came after the reply.
        var keepAlive: Bool
    }

    /// Why the bytes are not a reply this reader accepts.
    struct Malformed: Error, CustomStringConvertible {
        var reason: String
        var description: String { "malformed HTTP reply: \(reason)" }
    }

    /// The reply was not finished when the connection closed.
    struct ClosedEarly: Error, CustomStringConvertible {
        var description: String { "the connection closed before the reply ended" }
    }

    /// The reply's body is longer than the reader keeps.
    struct TooLarge: Error, CustomStringConvertible {
        var byteLimit: Int
        var description: String { "the reply is longer than \(byteLimit) bytes" }
    }

    /// How the body ends.
    private enum Framing {
        case length(Int)
        case chunked
        case untilClose
    }

    /// Where the reader is in the reply.
    private enum Stage {
        case head
        case fixedBody(remaining: Int)
        case chunkSize(digits: Int, value: Int, inExtension: Bool)
        case chunkSizeLineFeed(value: Int)
        case chunkData(remaining: Int)
        case chunkDataCarriageReturn
        case chunkDataLineFeed
        case trailerLineStart
        case trailerLine
        case trailerLineFeed(lineWasEmpty: Bool)
        case bodyUntilClose
        case done
    }

    /// The longest status line plus headers read; a real reply's head is a few hundred bytes.
    static let headByteLimit = 16 * 1024

    private let bodyByteLimit: Int
    private var stage = Stage.head
    private var headBytes: [UInt8] = []
    private var status = 0
    private var retryAfter: String?
    private var keepAlive = true
    private var body: [UInt8] = []
    private var reply: Reply?

    init(bodyByteLimit: Int) {
        self.bodyByteLimit = bodyByteLimit
    }

    /// Reads the next bytes the connection delivered.
    ///
    /// - Returns: the reply once it is complete, nil while more bytes are needed. Bytes after a
    ///   complete reply mark it not to be kept alive.
    /// - Throws: `Malformed` or `TooLarge`; the connection must then be closed.
    mutating func read(_ bytes: UnsafeRawBufferPointer) throws -> Reply? {
        var index = 0
        let count = bytes.count
        while index < count {
            let byte = bytes[index]
            switch stage {
            case .done:
                reply?.keepAlive = false
                return reply
            case .head:
                while index < count {
                    headBytes.append(bytes[index])
                    index += 1
                    if headBytes.count >= 4, headBytes[headBytes.count - 1] == 10, headBytes[headBytes.count - 2] == 13,
                       headBytes[headBytes.count - 3] == 10, headBytes[headBytes.count - 4] == 13 {
                        try finishHead()
                        break
                    }
                    guard headBytes.count < Self.headByteLimit else {
                        throw Malformed(reason: "the status line and headers exceed \(Self.headByteLimit) bytes")
                    }
                }
                continue
            case .fixedBody(let remaining):
                let taken = min(remaining, count - index)
                body.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<index + taken]))
                index += taken
                if taken == remaining { complete() } else { stage = .fixedBody(remaining: remaining - taken) }
                continue
            case .chunkSize(let digits, let value, let inExtension):
                if byte == 13 {
                    guard digits > 0 else { throw Malformed(reason: "a chunk size line holds no size") }
                    stage = .chunkSizeLineFeed(value: value)
                } else if inExtension {
                    guard byte != 10 else { throw Malformed(reason: "a bare line feed in a chunk size line") }
                } else if byte == UInt8(ascii: ";") {
                    stage = .chunkSize(digits: digits, value: value, inExtension: true)
                } else if let digit = Self.hexValue(byte) {
                    guard digits < 15 else { throw Malformed(reason: "a chunk size longer than 15 hexadecimal digits") }
                    stage = .chunkSize(digits: digits + 1, value: value << 4 | digit, inExtension: false)
                } else {
                    throw Malformed(reason: "a chunk size that is not hexadecimal")
                }
            case .chunkSizeLineFeed(let value):
                guard byte == 10 else { throw Malformed(reason: "a chunk size line not ended by CRLF") }
                if value == 0 {
                    stage = .trailerLineStart
                } else {
                    guard body.count + value <= bodyByteLimit else { throw TooLarge(byteLimit: bodyByteLimit) }
                    stage = .chunkData(remaining: value)
                }
            case .chunkData(let remaining):
                let taken = min(remaining, count - index)
                body.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<index + taken]))
                index += taken
                stage = taken == remaining ? .chunkDataCarriageReturn : .chunkData(remaining: remaining - taken)
                continue
            case .chunkDataCarriageReturn:
                guard byte == 13 else { throw Malformed(reason: "a chunk longer than its size") }
                stage = .chunkDataLineFeed
            case .chunkDataLineFeed:
                guard byte == 10 else { throw Malformed(reason: "a chunk not ended by CRLF") }
                stage = .chunkSize(digits: 0, value: 0, inExtension: false)
            case .trailerLineStart:
                stage = byte == 13 ? .trailerLineFeed(lineWasEmpty: true) : .trailerLine
            case .trailerLine:
                if byte == 13 { stage = .trailerLineFeed(lineWasEmpty: false) }
            case .trailerLineFeed(let lineWasEmpty):
                guard byte == 10 else { throw Malformed(reason: "a trailer line not ended by CRLF") }
                if lineWasEmpty {
                    index += 1
                    complete()
                    continue
                }
                stage = .trailerLineStart
            case .bodyUntilClose:
                let taken = count - index
                guard body.count + taken <= bodyByteLimit else { throw TooLarge(byteLimit: bodyByteLimit) }
                body.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<count]))
                return nil
            }
            index += 1
        }
        return reply
    }

    /// Tells the reader the connection closed.
    ///
    /// - Returns: the reply when its body runs to the close (or it was complete already).
    /// - Throws: `ClosedEarly` otherwise.
    mutating func readEnd() throws -> Reply {
        if case .bodyUntilClose = stage { complete() }
        guard var reply else { throw ClosedEarly() }
        reply.keepAlive = false
        return reply
    }

    private mutating func complete() {
        stage = .done
        reply = Reply(status: status, retryAfter: retryAfter, body: body, keepAlive: keepAlive)
    }

    /// Reads the status line and headers in `headBytes` and decides how the body is framed.
    private mutating func finishHead() throws {
        let lines = headBytes.split(separator: 10, omittingEmptySubsequences: false).dropLast(2)
        guard let statusLine = lines.first else { throw Malformed(reason: "no status line") }
        let (minorVersion, code) = try Self.readStatusLine(statusLine)
        var contentLength: Int?
        var chunked = false
        var transferEncoded = false
        var closeToken = false
        var keepAliveToken = false
        var retryAfter: String?
        for rawLine in lines.dropFirst() {
            guard rawLine.last == 13 else { throw Malformed(reason: "a header line not ended by CRLF") }
            let line = rawLine.dropLast()
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex else {
                throw Malformed(reason: "a header line without a name and a colon")
            }
            let name = line[line.startIndex..<colon]
            guard !name.contains(where: { $0 == 32 || $0 == 9 }) else { throw Malformed(reason: "white space in a header name") }
            let value = Self.trimmed(line[(colon + 1)...])
            if Self.equalIgnoringCase(name, "content-length") {
                guard let length = Self.decimal(value) else {
                    throw Malformed(reason: "Content-Length \"\(String(decoding: value, as: UTF8.self))\" is not a length")
                }
                guard contentLength == nil || contentLength == length else {
                    throw Malformed(reason: "two different Content-Length headers")
                }
                contentLength = length
            } else if Self.equalIgnoringCase(name, "transfer-encoding") {
                transferEncoded = true
                let codings = value.split(separator: UInt8(ascii: ","))
                chunked = codings.last.map { Self.equalIgnoringCase(Self.trimmed($0), "chunked") } ?? false
            } else if Self.equalIgnoringCase(name, "connection") {
                for token in value.split(separator: UInt8(ascii: ",")) {
                    let option = Self.trimmed(token)
                    if Self.equalIgnoringCase(option, "close") { closeToken = true }
                    if Self.equalIgnoringCase(option, "keep-alive") { keepAliveToken = true }
                }
            } else if retryAfter == nil, Self.equalIgnoringCase(name, "retry-after") {
                retryAfter = String(decoding: value, as: UTF8.self)
            }
        }
        headBytes.removeAll(keepingCapacity: true)
        // An interim 1xx reply is followed by the real one.
        if (100..<200).contains(code) { return }
        if transferEncoded, contentLength != nil {
            throw Malformed(reason: "both Transfer-Encoding and Content-Length")
        }
        let framing: Framing
        if code == 204 || code == 304 {
            framing = .length(0)
        } else if transferEncoded {
            framing = chunked ? .chunked : .untilClose
        } else if let contentLength {
            guard contentLength <= bodyByteLimit else { throw TooLarge(byteLimit: bodyByteLimit) }
            framing = .length(contentLength)
        } else {
            framing = .untilClose
        }
        status = code
        self.retryAfter = retryAfter
        keepAlive = minorVersion == 1 ? !closeToken : keepAliveToken && !closeToken
        switch framing {
        case .length(0):
            complete()
        case .length(let byteCount):
            body.reserveCapacity(byteCount)
            stage = .fixedBody(remaining: byteCount)
        case .chunked:
            stage = .chunkSize(digits: 0, value: 0, inExtension: false)
        case .untilClose:
            keepAlive = false
            stage = .bodyUntilClose
        }
    }

    /// The minor version and the status code of `HTTP/1.x NNN reason`.
    private static func readStatusLine(_ rawLine: ArraySlice<UInt8>) throws -> (minorVersion: Int, code: Int) {
        let line = Array(rawLine)
        let prefix = Array("HTTP/1.".utf8)
        guard line.count >= 13, line.last == 13, Array(line[0..<7]) == prefix, line[8] == 32, line[12] == 32 || line[12] == 13,
              let minor = decimal(line[7...7]), let code = decimal(line[9...11]), code >= 100 else {
            throw Malformed(reason: "the status line \"\(String(decoding: line.dropLast(), as: UTF8.self).prefix(80))\"")
        }
        return (minor, code)
    }

    private static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var slice = bytes
        while let first = slice.first, first == 32 || first == 9 { slice.removeFirst() }
        while let last = slice.last, last == 32 || last == 9 { slice.removeLast() }
        return slice
    }

    /// Whether `bytes` spell `lowercase` in any case; `lowercase` is ASCII.
    private static func equalIgnoringCase(_ bytes: ArraySlice<UInt8>, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        let expected = UnsafeBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount)
        return zip(bytes, expected).allSatisfy { (byte, lower) in
            let folded = (65...90).contains(byte) ? byte | 0x20 : byte
            return folded == lower
        }
    }

    /// A non-negative decimal number of at most 18 digits, or nil.
    private static func decimal(_ bytes: ArraySlice<UInt8>) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 18 else { return nil }
        var value = 0
        for byte in bytes {
            guard (48...57).contains(byte) else { return nil }
            value = value * 10 + Int(byte - 48)
        }
        return value
    }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case 48...57: return Int(byte - 48)
        case 65...70: return Int(byte - 55)
        case 97...102: return Int(byte - 87)
        default: return nil
        }
    }
}
