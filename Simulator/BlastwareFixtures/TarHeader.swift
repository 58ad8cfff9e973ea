/// One 512-byte ustar header.
struct TarHeader {
    enum EntryType: Equatable {
        case regularFile
        case directory
        case gnuLongName
        case paxExtended
        case paxGlobal
        case other(UInt8)
    }

    static let blockByteCount = 512

    var name: String
    var byteCount: Int64
    var modificationSeconds: Int64
    var type: EntryType

    static func paddingByteCount(after byteCount: Int64) -> Int {
        Int((Int64(blockByteCount) - byteCount % Int64(blockByteCount)) % Int64(blockByteCount))
    }

    /// A ustar header block; names over 100 bytes are split into prefix and name at a `/`.
    static func block(name: String, byteCount: Int64, modificationSeconds: Int64, type: EntryType) throws -> [UInt8] {
        var block = [UInt8](repeating: 0, count: blockByteCount)
        let nameBytes = Array(name.utf8)
        var prefixBytes: [UInt8] = []
        var shortName = nameBytes
        if nameBytes.count > 100 {
            guard let split = nameBytes.indices.last(where: { index in
                nameBytes[index] == UInt8(ascii: "/") && index <= 155 && nameBytes.count - index - 1 <= 100
            }) else {
                throw FixtureArchiveError.unsupportedEntry(path: name, detail: "name too long for a ustar header")
            }
            prefixBytes = Array(nameBytes[..<split])
            shortName = Array(nameBytes[(split + 1)...])
        }
        guard byteCount < 0o77777777777 else {
            throw FixtureArchiveError.unsupportedEntry(path: name, detail: "file too large for a ustar header")
        }
        func put(_ bytes: [UInt8], at offset: Int) {
            for (index, byte) in bytes.enumerated() { block[offset + index] = byte }
        }
        func octal(_ value: Int64, width: Int) -> [UInt8] {
            let digits = String(value, radix: 8)
            return Array((String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits).utf8) + [0]
        }
        put(shortName, at: 0)
        put(octal(type == .directory ? 0o755 : 0o644, width: 8), at: 100)
        put(octal(0, width: 8), at: 108)
        put(octal(0, width: 8), at: 116)
        put(octal(byteCount, width: 12), at: 124)
        put(octal(max(0, modificationSeconds), width: 12), at: 136)
        put([UInt8](repeating: UInt8(ascii: " "), count: 8), at: 148)
        block[156] = type == .directory ? UInt8(ascii: "5") : UInt8(ascii: "0")
        put(Array("ustar".utf8) + [0] + Array("00".utf8), at: 257)
        put(prefixBytes, at: 345)
        let checksum = block.reduce(0) { $0 + Int64($1) }
        put(Array((String(repeating: "0", count: max(0, 6 - String(checksum, radix: 8).count))
            + String(checksum, radix: 8)).utf8) + [0, UInt8(ascii: " ")], at: 148)
        return block
    }

    /// Parses and checks a header block.
    init(block: [UInt8], archivePath: String) throws {
        func field(_ offset: Int, _ length: Int) -> ArraySlice<UInt8> { block[offset..<(offset + length)] }
        func text(_ offset: Int, _ length: Int) -> String {
            String(decoding: field(offset, length).prefix { $0 != 0 }, as: UTF8.self)
        }
        func number(_ offset: Int, _ length: Int) throws -> Int64 {
            let bytes = field(offset, length)
            if let first = bytes.first, first & 0x80 != 0 {
                // GNU base-256: big-endian two's complement with the top bit as a marker.
                return bytes.dropFirst().reduce(Int64(first & 0x7F)) { ($0 << 8) | Int64($1) }
            }
            let digits = bytes.prefix { $0 != 0 && $0 != UInt8(ascii: " ") }.drop { $0 == UInt8(ascii: " ") }
            guard !digits.isEmpty else { return 0 }
            guard let value = Int64(String(decoding: digits, as: UTF8.self), radix: 8) else {
                throw FixtureArchiveError.corruptArchive(path: archivePath, detail: "header field is not a number")
            }
            return value
        }
        let storedChecksum = try number(148, 8)
        var computedChecksum: Int64 = 0
        for (index, byte) in block.enumerated() {
            computedChecksum += (148..<156).contains(index) ? Int64(UInt8(ascii: " ")) : Int64(byte)
        }
        guard storedChecksum == computedChecksum else {
            throw FixtureArchiveError.corruptArchive(path: archivePath, detail: "header checksum mismatch")
        }
        let isUstar = text(257, 5) == "ustar"
        let prefix = isUstar ? text(345, 155) : ""
        let shortName = text(0, 100)
        name = prefix.isEmpty ? shortName : "\(prefix)/\(shortName)"
        byteCount = try number(124, 12)
        modificationSeconds = try number(136, 12)
        switch block[156] {
        case 0, UInt8(ascii: "0"), UInt8(ascii: "7"): type = name.hasSuffix("/") ? .directory : .regularFile
        case UInt8(ascii: "5"): type = .directory
        case UInt8(ascii: "L"): type = .gnuLongName
        case UInt8(ascii: "x"): type = .paxExtended
        case UInt8(ascii: "g"): type = .paxGlobal
        case let other: type = .other(other)
        }
        guard byteCount >= 0 else {
            throw FixtureArchiveError.corruptArchive(path: archivePath, detail: "negative entry size")
        }
    }

    /// The `key=value` records of a pax extended header (`"<length> <key>=<value>\n"` each).
    static func paxRecords(_ payload: [UInt8]) -> [String: String] {
        var records: [String: String] = [:]
        var index = 0
        while index < payload.count {
            guard let space = payload[index...].firstIndex(of: UInt8(ascii: " ")),
                  let length = Int(String(decoding: payload[index..<space], as: UTF8.self)),
                  length > 0, index + length <= payload.count else { break }
            var record = payload[(space + 1)..<(index + length)]
            if record.last == UInt8(ascii: "\n") { record = record.dropLast() }
            if let equals = record.firstIndex(of: UInt8(ascii: "=")) {
                records[String(decoding: record[..<equals], as: UTF8.self)] =
                    String(decoding: record[(equals + 1)...], as: UTF8.self)
            }
            index += length
        }
        return records
    }
}
