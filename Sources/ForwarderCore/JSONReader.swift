/// A forward-only JSON reader over bytes, for the version-1 import: members are visited as
/// they come and values the import does not need are skipped without building anything.
struct JSONReader {
    /// A syntax error: where, and what was expected there.
    struct Malformed: Error {
        var offset: Int
        var expected: String
    }

    let bytes: UnsafeBufferPointer<UInt8>
    private(set) var position = 0
    /// Decoded string bytes, reused from string to string.
    private var scratch: [UInt8] = []

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    mutating func skipByteOrderMark() {
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { position = 3 }
    }

    /// The next byte that is not whitespace, without consuming it; nil at the end.
    mutating func peekNonWhitespace() -> UInt8? {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return bytes[position]
            }
        }
        return nil
    }

    mutating func expectEnd() throws {
        if peekNonWhitespace() != nil { throw Malformed(offset: position, expected: "the end of the file") }
    }

    private mutating func expect(_ byte: UInt8, _ what: String) throws {
        guard peekNonWhitespace() == byte else { throw Malformed(offset: position, expected: what) }
        position += 1
    }

    /// Visits each member of the object that starts here, with its key; `body` must consume
    /// the member's value.
    mutating func forEachMember(_ body: (inout JSONReader, String) throws -> Void) throws {
        try forEachItem(between: UInt8(ascii: "{"), and: UInt8(ascii: "}"), of: "an object") { reader in
            guard reader.peekNonWhitespace() == UInt8(ascii: "\"") else {
                throw Malformed(offset: reader.position, expected: "a member name")
            }
            let key = try reader.string()
            try reader.expect(UInt8(ascii: ":"), "':'")
            try body(&reader, key)
        }
    }

    /// Visits each element of the array that starts here; `body` must consume the element.
    mutating func forEachElement(_ body: (inout JSONReader) throws -> Void) throws {
        try forEachItem(between: UInt8(ascii: "["), and: UInt8(ascii: "]"), of: "an array", body)
    }

    /// The comma-separated items between `open` and `close`, each read by `item`.
    private mutating func forEachItem(between open: UInt8, and close: UInt8, of container: String,
                                      _ item: (inout JSONReader) throws -> Void) throws {
        try expect(open, container)
        if peekNonWhitespace() == close {
            position += 1
            return
        }
        while true {
            try item(&self)
            switch peekNonWhitespace() {
            case UInt8(ascii: ","): position += 1
            case close:
                position += 1
                return
            default: throw Malformed(offset: position, expected: "',' or '\(Character(Unicode.Scalar(close)))'")
            }
        }
    }

    /// The string value here, decoded; nil (with the value skipped) when the value is not a string.
    mutating func stringValue() throws -> String? {
        guard peekNonWhitespace() == UInt8(ascii: "\"") else {
            try skipValue()
            return nil
        }
        return try string()
    }

    /// The text of the scalar here (a number, `true`, `false` or `null`), or of a string
    /// without its quotes; a whole object or array is skipped and given as `{…}` or `[…]`.
    mutating func rawValue() throws -> String {
        switch peekNonWhitespace() {
        case UInt8(ascii: "\""): return try string()
        case UInt8(ascii: "{"):
            try skipValue()
            return "{…}"
        case UInt8(ascii: "["):
            try skipValue()
            return "[…]"
        default:
            let start = position
            try skipScalar()
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        }
    }

    /// Skips the value here, whatever it is.
    mutating func skipValue() throws {
        switch peekNonWhitespace() {
        case UInt8(ascii: "\""): _ = try string()
        case UInt8(ascii: "{"): try forEachMember { reader, _ in try reader.skipValue() }
        case UInt8(ascii: "["):
            position += 1
            if peekNonWhitespace() == UInt8(ascii: "]") {
                position += 1
                return
            }
            while true {
                try skipValue()
                switch peekNonWhitespace() {
                case UInt8(ascii: ","): position += 1
                case UInt8(ascii: "]"):
                    position += 1
                    return
                default: throw Malformed(offset: position, expected: "',' or ']'")
                }
            }
        default: try skipScalar()
        }
    }

    /// Consumes a number, `true`, `false` or `null`, checking its form.
    private mutating func skipScalar() throws {
        let start = position
        while position < bytes.count, Self.isScalarByte(bytes[position]) { position += 1 }
        let token = UnsafeBufferPointer(rebasing: bytes[start..<position])
        guard !token.isEmpty, Self.isLiteral(token) || Self.isNumber(token) else {
            throw Malformed(offset: start, expected: "a value")
        }
    }

    private static func isScalarByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."), UInt8(ascii: "E"):
            return true
        default:
            return false
        }
    }

    private static func isLiteral(_ token: UnsafeBufferPointer<UInt8>) -> Bool {
        token.elementsEqual("true".utf8) || token.elementsEqual("false".utf8) || token.elementsEqual("null".utf8)
    }

    /// RFC 8259's number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    private static func isNumber(_ token: UnsafeBufferPointer<UInt8>) -> Bool {
        var index = 0
        func digits() -> Int {
            let start = index
            while index < token.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(token[index]) { index += 1 }
            return index - start
        }
        if token[index] == UInt8(ascii: "-") { index += 1 }
        guard index < token.count else { return false }
        if token[index] == UInt8(ascii: "0") { index += 1 } else if digits() == 0 { return false }
        if index < token.count, token[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { return false }
        }
        if index < token.count, token[index] == UInt8(ascii: "e") || token[index] == UInt8(ascii: "E") {
            index += 1
            if index < token.count, token[index] == UInt8(ascii: "+") || token[index] == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { return false }
        }
        return index == token.count
    }

    /// Consumes the string that starts here and returns it decoded.
    private mutating func string() throws -> String {
        try expect(UInt8(ascii: "\""), "a string")
        let start = position
        // The common case, no escape: the bytes are the string.
        while position < bytes.count, bytes[position] != UInt8(ascii: "\""), bytes[position] != UInt8(ascii: "\\"),
              bytes[position] >= 0x20 {
            position += 1
        }
        guard position < bytes.count else { throw Malformed(offset: position, expected: "the end of a string") }
        if bytes[position] == UInt8(ascii: "\"") {
            position += 1
            return try validated(UnsafeBufferPointer(rebasing: bytes[start..<(position - 1)]), at: start)
        }
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<position]))
        while true {
            guard position < bytes.count else { throw Malformed(offset: position, expected: "the end of a string") }
            let byte = bytes[position]
            position += 1
            switch byte {
            case UInt8(ascii: "\""):
                return try scratch.withUnsafeBufferPointer { try validated($0, at: start) }
            case UInt8(ascii: "\\"):
                try unescape()
            case 0..<0x20:
                throw Malformed(offset: position - 1, expected: "no control character inside a string")
            default:
                scratch.append(byte)
            }
        }
    }

    private func validated(_ utf8: UnsafeBufferPointer<UInt8>, at offset: Int) throws -> String {
        guard let text = String(validating: utf8, as: UTF8.self) else {
            throw Malformed(offset: offset, expected: "a string in UTF-8")
        }
        return text
    }

    /// Decodes the escape after a backslash into `scratch`.
    private mutating func unescape() throws {
        guard position < bytes.count else { throw Malformed(offset: position, expected: "an escape") }
        let byte = bytes[position]
        position += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scratch.append(byte)
        case UInt8(ascii: "b"): scratch.append(0x08)
        case UInt8(ascii: "f"): scratch.append(0x0C)
        case UInt8(ascii: "n"): scratch.append(0x0A)
        case UInt8(ascii: "r"): scratch.append(0x0D)
        case UInt8(ascii: "t"): scratch.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try hexQuad()
            if (0xD800..<0xDC00).contains(scalar) {
                guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") else {
                    throw Malformed(offset: position, expected: "the second half of a surrogate pair")
                }
                position += 2
                let low = try hexQuad()
                guard (0xDC00..<0xE000).contains(low) else {
                    throw Malformed(offset: position - 4, expected: "the second half of a surrogate pair")
                }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            }
            guard let unicode = Unicode.Scalar(scalar) else {
                throw Malformed(offset: position - 4, expected: "a Unicode scalar")
            }
            scratch.append(contentsOf: String(Character(unicode)).utf8)
        default:
            throw Malformed(offset: position - 1, expected: "an escape")
        }
    }

    private mutating func hexQuad() throws -> UInt32 {
        guard position + 4 <= bytes.count else { throw Malformed(offset: position, expected: "four hexadecimal digits") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw Malformed(offset: position, expected: "four hexadecimal digits")
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }
}
