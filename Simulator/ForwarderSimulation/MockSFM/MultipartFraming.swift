import Foundation
import NIOCore
import NIOFoundationCompat

/// Splits a `multipart/form-data` body into parts, accepting and refusing exactly what
/// multipart-kit 4.7.1's `MultipartParser` (fed the whole body at once) accepts and refuses.
///
/// The mock used multipart-kit until its parser was a third of the mock's CPU: it reads every
/// body byte through a `ByteBuffer` and hands the body over in pieces at every carriage return.
/// This reader searches the body with `memchr` for carriage returns and hands each part's body
/// out as a view of the request body's storage. Everything else is multipart-kit's automaton
/// step for step, quirks included (a `--boundary` anywhere in the preamble opens the first
/// part; anything after the first `-` behind a boundary is epilogue; a part cut off before any
/// of its headers or body bytes arrived is dropped silently), so that the mock keeps refusing
/// what it refused before;
/// `MultipartFramingDifferentialTests` holds the two readers to the same verdicts.
///
/// Callers refuse bodies whose header blocks hold bytes above 0x7F first
/// (`UploadReader.hasNonASCIIHeaderBlock`); this reader refuses them as malformed too.
enum MultipartFraming {
    /// One part: its headers in order, and its body bytes.
    struct Part: Equatable {
        var headers: [MockHeader] = []
        var body = Data()
    }

    /// The parts of `body`, or the rejection the mock answers for a body it cannot frame.
    static func parts(of body: ByteBuffer, boundary: String) throws(MockRejection) -> [Part] {
        let outcome = body.withUnsafeReadableBytes { raw in
            var reader = Reader(source: body, bytes: raw, boundary: Array("\r\n--\(boundary)".utf8))
            return reader.run()
        }
        switch outcome {
        case .malformed:
            throw MockRejection(status: 400, detail: "malformed multipart body")
        case .endsInsidePart:
            throw MockRejection(status: 400, detail: "multipart body ends inside a part (no closing boundary)")
        case .parts(let parts) where parts.isEmpty:
            throw MockRejection(status: 400, detail: "no files in the multipart body")
        case .parts(let parts):
            return parts
        }
    }

    private enum Outcome {
        case parts([Part])
        case malformed
        /// The body ended after a part had given a header or body bytes, before its boundary.
        case endsInsidePart
    }

    private struct Malformed: Error {}

    /// One pass over the body; positions are byte offsets into it.
    private struct Reader {
        /// The body whose readable bytes `bytes` are: parts' bodies share its storage.
        let source: ByteBuffer
        let bytes: UnsafeRawBufferPointer
        /// `\r\n--` and the boundary: what ends a part's body.
        let delimiter: [UInt8]
        var position = 0
        var parts: [Part] = []
        /// The part being read: headers so far, and whether any header or body byte of it has
        /// been given (multipart-kit's callbacks fired), which decides how an early end reads.
        var current = Part()
        var currentHasContent = false

        init(source: ByteBuffer, bytes: UnsafeRawBufferPointer, boundary delimiter: [UInt8]) {
            self.source = source
            self.bytes = bytes
            self.delimiter = delimiter
        }

        mutating func run() -> Outcome {
            guard skipPreamble() else { return .parts([]) }
            do {
                // After the preamble's boundary comes a full CRLF; after later ones, the CR was read.
                var carriageReturnRead = false
                while true {
                    guard try readHeaders(carriageReturnRead: carriageReturnRead) else { return end() }
                    switch try readBody() {
                    case .ended:
                        return end()
                    case .epilogue:
                        return .parts(parts)
                    case .nextPart:
                        carriageReturnRead = true
                    }
                }
            } catch {
                return .malformed
            }
        }

        /// The body ended before the current part's boundary.
        private func end() -> Outcome {
            currentHasContent ? .endsInsidePart : .parts(parts)
        }

        private func byte(at index: Int) -> UInt8 { bytes[index] }

        /// Skips to just after the first `--boundary` multipart-kit's preamble matcher finds;
        /// false when the body ends first.
        private mutating func skipPreamble() -> Bool {
            var matched = 0
            while matched < delimiter.count, position < bytes.count {
                let next = byte(at: position)
                position += 1
                if matched == 0, next == delimiter[2] {
                    matched = 3
                } else if next == delimiter[matched] {
                    matched += 1
                } else if matched > 0, next == delimiter[0] {
                    matched = 1
                } else {
                    matched = 0
                }
            }
            return matched >= delimiter.count
        }

        /// Reads the CRLF after a boundary and a part's header lines up to the blank line; false
        /// when the body ends first. A header counts once its line's LF has arrived.
        private mutating func readHeaders(carriageReturnRead: Bool) throws(Malformed) -> Bool {
            let carriageReturn: UInt8 = 0x0D, lineFeed: UInt8 = 0x0A, colon: UInt8 = 0x3A
            if !carriageReturnRead {
                guard position < bytes.count else { return false }
                guard byte(at: position) == carriageReturn else { throw Malformed() }
                position += 1
            }
            guard position < bytes.count else { return false }
            guard byte(at: position) == lineFeed else { throw Malformed() }
            position += 1
            while true {
                let nameStart = position
                while position < bytes.count, byte(at: position) != colon,
                      !(byte(at: position) == carriageReturn && position == nameStart) {
                    guard Self.isTokenByte(byte(at: position)) else { throw Malformed() }
                    position += 1
                }
                guard position < bytes.count else { return false }
                if byte(at: position) == carriageReturn {
                    position += 1
                    guard position < bytes.count else { return false }
                    guard byte(at: position) == lineFeed else { throw Malformed() }
                    position += 1
                    return true
                }
                guard position > nameStart else { throw Malformed() }
                let name = string(nameStart..<position)
                position += 1
                while position < bytes.count, byte(at: position) == 0x20 || byte(at: position) == 0x09 { position += 1 }
                let valueStart = position
                while position < bytes.count, byte(at: position) != carriageReturn { position += 1 }
                guard position + 1 < bytes.count else { return false }
                let value = string(valueStart..<position)
                guard byte(at: position + 1) == lineFeed else { throw Malformed() }
                position += 2
                current.headers.append(MockHeader(name, value))
                currentHasContent = true
            }
        }

        private enum BodyEnd {
            /// The body ended before a complete boundary and the byte after it.
            case ended
            /// A boundary followed by `-`: the rest is epilogue.
            case epilogue
            /// A boundary followed by CR: another part's headers follow.
            case nextPart
        }

        /// Reads a part's body up to the boundary and the byte after it, and completes the part.
        ///
        /// Like multipart-kit, a candidate boundary starts at each carriage return; when it
        /// stops matching at offset k, the search resumes at offset k (so a carriage return
        /// inside the boundary itself hides a boundary that overlaps it, as it does there).
        private mutating func readBody() throws(Malformed) -> BodyEnd {
            let bodyStart = position
            var searchFrom = position
            while true {
                guard searchFrom < bytes.count,
                      let found = memchr(bytes.baseAddress! + searchFrom, Int32(delimiter[0]), bytes.count - searchFrom)
                else {
                    // Everything up to the end was handed over as body.
                    if bytes.count > bodyStart { currentHasContent = true }
                    return .ended
                }
                let candidate = bytes.baseAddress!.distance(to: UnsafeRawPointer(found))
                var matched = 1
                while matched < delimiter.count, candidate + matched < bytes.count,
                      byte(at: candidate + matched) == delimiter[matched] {
                    matched += 1
                }
                let afterDelimiter = candidate + delimiter.count
                guard matched == delimiter.count, afterDelimiter < bytes.count else {
                    if candidate + matched >= bytes.count {
                        // The body ends inside a candidate: only the bytes before it were given.
                        if candidate > bodyStart { currentHasContent = true }
                        return .ended
                    }
                    searchFrom = candidate + matched
                    continue
                }
                // A view of the body's storage, not a copy: the copies and the fresh pages they
                // took were 3 % of the mock's CPU.
                current.body = source.getData(at: source.readerIndex + bodyStart, length: candidate - bodyStart,
                                              byteTransferStrategy: .noCopy) ?? Data()
                parts.append(current)
                current = Part()
                currentHasContent = false
                position = afterDelimiter + 1
                switch byte(at: afterDelimiter) {
                case 0x0D: return .nextPart
                case 0x2D: return .epilogue
                default:
                    // multipart-kit completes the part, then fails on the byte.
                    throw Malformed()
                }
            }
        }

        private func string(_ range: Range<Int>) -> String {
            String(validating: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self) ?? ""
        }

        /// A header-name byte: an RFC 822 token character (no controls, space or tspecials).
        static func isTokenByte(_ byte: UInt8) -> Bool {
            guard byte > 0x20, byte < 0x7F else { return false }
            return !"()<>@,;:\\\"/[]?={}".utf8.contains(byte)
        }
    }
}
