/// Reads the tab-separated fields of one state line in place, front to back.
///
/// Loading a million-record state decodes a million lines: the fields are read straight from
/// the line's bytes, without an array of fields or a string per line (issue #14).
struct StateLineCursor {
    private let line: UnsafeBufferPointer<UInt8>
    private var position = 0

    init(_ line: UnsafeBufferPointer<UInt8>) {
        self.line = line
    }

    /// The bytes up to the next tab, which is passed over; nil when no tab follows.
    mutating func field() -> UnsafeBufferPointer<UInt8>? {
        var end = position
        while end < line.count {
            if line[end] == UInt8(ascii: "\t") {
                let field = UnsafeBufferPointer(rebasing: line[position..<end])
                position = end + 1
                return field
            }
            end += 1
        }
        return nil
    }

    /// A digest field: 64 hexadecimal characters, then a tab, which is passed over.
    ///
    /// The digest's length is fixed, so the tab is looked for where it must be rather than
    /// searched for along 64 bytes.
    mutating func digest() -> EventDigest? {
        let end = position + 64
        guard end < line.count, line[end] == UInt8(ascii: "\t"),
              let digest = EventDigest(hexBytes: UnsafeBufferPointer(rebasing: line[position..<end])) else { return nil }
        position = end + 1
        return digest
    }

    /// An integer field (`integer(_:)`), then a tab, read in one pass.
    mutating func integerField() -> Int64? {
        var end = position
        var magnitude: UInt64 = 0
        let negative = end < line.count && line[end] == UInt8(ascii: "-")
        if negative { end += 1 }
        let firstDigit = end
        while end < line.count {
            let digit = line[end] &- UInt8(ascii: "0")
            guard digit < 10 else { break }
            // Nineteen digits always fit a UInt64; longer fields are left to `integer(_:)`.
            magnitude = magnitude &* 10 &+ UInt64(digit)
            end += 1
        }
        guard end < line.count, line[end] == UInt8(ascii: "\t"), end > firstDigit else { return nil }
        let value: Int64
        if end - firstDigit > 19 {
            guard let checked = Self.integer(UnsafeBufferPointer(rebasing: line[position..<end])) else { return nil }
            value = checked
        } else if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            value = Int64(truncatingIfNeeded: 0 &- magnitude)
        } else {
            guard magnitude <= UInt64(Int64.max) else { return nil }
            value = Int64(magnitude)
        }
        position = end + 1
        return value
    }

    /// Everything after the last field read: a file name, non-empty, without a tab, valid UTF-8.
    func fileName() -> UnsafeBufferPointer<UInt8>? {
        let rest = UnsafeBufferPointer(rebasing: line[position...])
        return Self.isFileName(rest) ? rest : nil
    }

    /// Whether `bytes` can be a stored file name: non-empty, without a tab, valid UTF-8.
    static func isFileName(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard !bytes.isEmpty else { return false }
        var isASCII = true
        for byte in bytes {
            if byte == UInt8(ascii: "\t") { return false }
            if byte >= 0x80 { isASCII = false }
        }
        return isASCII || String(validating: bytes, as: UTF8.self) != nil
    }

    static func isDash(_ field: UnsafeBufferPointer<UInt8>) -> Bool {
        field.count == 1 && field[0] == UInt8(ascii: "-")
    }

    /// `0` or `1`; nil otherwise.
    static func flag(_ field: UnsafeBufferPointer<UInt8>) -> Bool? {
        guard field.count == 1 else { return nil }
        switch field[0] {
        case UInt8(ascii: "0"): return false
        case UInt8(ascii: "1"): return true
        default: return nil
        }
    }

    /// A decimal Int64, optionally negative, in at most 20 characters; nil otherwise.
    static func integer(_ field: UnsafeBufferPointer<UInt8>) -> Int64? {
        guard !field.isEmpty, field.count <= 20 else { return nil }
        let negative = field[0] == UInt8(ascii: "-")
        let firstDigit = negative ? 1 : 0
        guard field.count > firstDigit else { return nil }
        // Accumulated with its sign, so that Int64.min, which the encoder writes for the
        // earliest file time, reads back; its magnitude does not fit a positive Int64.
        var value: Int64 = 0
        for index in firstDigit..<field.count {
            let digit = field[index] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            let (multiplied, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (added, overflow2) = negative ? multiplied.subtractingReportingOverflow(Int64(digit))
                : multiplied.addingReportingOverflow(Int64(digit))
            guard !overflow1, !overflow2 else { return nil }
            value = added
        }
        return value
    }

    /// A decimal UInt64 in at most 20 characters; nil otherwise.
    static func unsigned(_ field: UnsafeBufferPointer<UInt8>) -> UInt64? {
        guard !field.isEmpty, field.count <= 20 else { return nil }
        var value: UInt64 = 0
        for byte in field {
            let digit = byte &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            let (multiplied, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (added, overflow2) = multiplied.addingReportingOverflow(UInt64(digit))
            guard !overflow1, !overflow2 else { return nil }
            value = added
        }
        return value
    }

    /// `volume:file`, two decimal UInt64s; nil otherwise.
    static func identity(_ field: UnsafeBufferPointer<UInt8>) -> FileIdentity? {
        guard let colon = field.firstIndex(of: UInt8(ascii: ":")),
              let volume = unsigned(UnsafeBufferPointer(rebasing: field[..<colon])),
              let file = unsigned(UnsafeBufferPointer(rebasing: field[(colon + 1)...])) else { return nil }
        return FileIdentity(volume: volume, file: file)
    }
}
