@testable import ForwarderCore
import Testing

@Suite("BinaryStateSnapshot")
struct BinaryStateSnapshotTests {
    func digest(_ index: Int) -> EventDigest {
        let words = [UInt64(index) &* 0x9E37_79B9_7F4A_7C15, UInt64(index), ~UInt64(index), UInt64(index) &* 31]
        return EventDigest(hex: words.map { word -> String in
            let text = String(word, radix: 16)
            return String(repeating: "0", count: 16 - text.count) + text
        }.joined())!
    }

    func record(_ index: Int, name: String? = nil, fingerprint: Bool = true, identity: FileIdentity? = nil) -> ForwardRecord {
        let time = FileTime(nanosecondsSince1970: Int64(index) * 1_000_000_007)
        return ForwardRecord(digest: digest(index), fileName: name ?? "N\(index).AB0W", byteCount: Int64(1000 + index),
                             hadReport: index % 3 != 0, forwardedAt: time,
                             fingerprint: fingerprint ? FileFingerprint(byteCount: Int64(1000 + index), modificationTime: time - .seconds(5),
                                                                        identity: identity ?? FileIdentity(volume: UInt64(index % 2), file: UInt64(index)))
                                 : nil)
    }

    /// Every kind of value a table holds: no fingerprint, no identity, extreme times and
    /// numbers, a name outside ASCII.
    var variedRecords: [ForwardRecord] {
        [record(1), record(2, fingerprint: false), record(3, identity: FileIdentity(volume: .max, file: .max)),
         ForwardRecord(digest: digest(4), fileName: "Ünïcode näme.TXT", byteCount: .max, hadReport: true,
                       forwardedAt: FileTime(nanosecondsSince1970: .min),
                       fingerprint: FileFingerprint(byteCount: .max, modificationTime: FileTime(nanosecondsSince1970: .max), identity: nil)),
         record(5, name: "x")]
    }

    var variedLines: [StateLine] {
        [.attempts(DeliveryAttempts(fileName: "W1.AB0W", digest: digest(90), fingerprint: FileFingerprint(byteCount: 5, modificationTime:
                                        FileTime(nanosecondsSince1970: 7), identity: nil),
                                    failures: 3, rejections: 1, lastAttemptAt: FileTime(nanosecondsSince1970: 8),
                                    nextAttemptAt: FileTime(nanosecondsSince1970: 9), quarantined: true, lastError: "HTTP 503")),
         .consecutiveFailures(4)]
    }

    func encoded(_ table: CompactRecordTable, lines: [StateLine] = []) -> [UInt8] {
        var bytes: [UInt8] = []
        BinaryStateSnapshot.encode(table, lines: lines) { bytes.append(contentsOf: $0) }
        return bytes
    }

    func decoded(_ bytes: [UInt8]) throws -> BinaryStateSnapshot.Decoded {
        var offset = 0
        return try BinaryStateSnapshot.decode(byteCount: bytes.count) { buffer in
            guard offset + buffer.count <= bytes.count else { throw BinaryStateSnapshot.Damage("read past the end") }
            bytes.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + buffer.count)])) }
            offset += buffer.count
        }
    }

    func allRecords(_ table: CompactRecordTable) -> [ForwardRecord] {
        var records: [ForwardRecord] = []
        table.forEach { records.append($0) }
        return records
    }

    /// Sets the trailer to the sums of what precedes it, as a file made to pass them would.
    func resummed(_ bytes: [UInt8]) -> [UInt8] {
        var checksum = SnapshotChecksum()
        bytes.withUnsafeBytes { checksum.add(UnsafeRawBufferPointer(rebasing: $0[..<(bytes.count - 16)])) }
        var trailer = (checksum.low.littleEndian, checksum.high.littleEndian)
        return Array(bytes.dropLast(16)) + withUnsafeBytes(of: &trailer) { Array($0) }
    }

    @Test("Snapshot: every field, the attempts and the breaker's count read back as written")
    func roundTrip() throws {
        var table = CompactRecordTable()
        for record in variedRecords { table.store(record) }
        let bytes = encoded(table, lines: variedLines)
        #expect(bytes.starts(with: Array("BLASTWARE-FORWARDER-STATE 5\n".utf8)))
        #expect(bytes.count % 8 == 0)
        let loaded = try decoded(bytes)
        #expect(allRecords(loaded.table) == variedRecords)
        #expect(loaded.lines == variedLines)
        for record in variedRecords {
            #expect(loaded.table.record(for: record.digest) == record)
            #expect(loaded.table.record(forName: record.fileName) == record)
        }
        #expect(loaded.table.withoutReportCount == variedRecords.filter { !$0.hadReport }.count)
    }

    @Test("Snapshot: an empty table round-trips")
    func empty() throws {
        let loaded = try decoded(encoded(CompactRecordTable()))
        #expect(loaded.table.count == 0)
        #expect(loaded.lines.isEmpty)
        #expect(loaded.table.record(for: digest(1)) == nil)
    }

    @Test("Snapshot: a record replaced under a new name is written with that name only, and the table grows after loading")
    func replacedNames() throws {
        var table = CompactRecordTable()
        for index in 0..<50 { table.store(record(index)) }
        table.store(record(7, name: "renamed-seven.AB0W"))
        table.store(record(0, name: "renamed-zero-with-a-longer-name.AB0W"))
        let bytes = encoded(table)
        let namesStart = 64 + 50 * 72
        let names = String(decoding: bytes[namesStart...].prefix { $0 != 0 }, as: UTF8.self)
        #expect(names.contains("\nrenamed-seven.AB0W\n"))
        #expect(!names.contains("\nN7.AB0W\n") && !names.hasPrefix("N0.AB0W\n"), "replaced names are not written")
        var loaded = try decoded(bytes).table
        #expect(allRecords(loaded) == allRecords(table))
        #expect(loaded.record(forName: "renamed-seven.AB0W")?.digest == digest(7))
        #expect(loaded.record(forName: "N7.AB0W") == nil)
        for index in 50..<200 { loaded.store(record(index)) }
        #expect(loaded.count == 200)
        #expect(loaded.record(for: digest(199)) == record(199))
        #expect(loaded.record(forName: "N3.AB0W") == record(3))
    }

    @Test("Snapshot: a file cut anywhere, or with a byte added, is refused as cut short or extended")
    func truncated() throws {
        var table = CompactRecordTable()
        for record in variedRecords { table.store(record) }
        let bytes = encoded(table, lines: variedLines)
        for length in 0..<bytes.count {
            let failure = try #require(throws: BinaryStateSnapshot.Damage.self) { try decoded(Array(bytes.prefix(length))) }
            #expect(failure.description.contains(length < 80 ? "too short" : "cut short"), "\(length): \(failure)")
        }
        let extended = try #require(throws: BinaryStateSnapshot.Damage.self) { try decoded(bytes + [0]) }
        #expect(extended.description.contains("extra bytes"))
    }

    @Test("Snapshot: any flipped bit is refused")
    func flippedBits() throws {
        var table = CompactRecordTable()
        for record in variedRecords { table.store(record) }
        let bytes = encoded(table, lines: variedLines)
        for index in bytes.indices {
            for bit in [0, 7] {
                var damaged = bytes
                damaged[index] ^= 1 << bit
                #expect(throws: BinaryStateSnapshot.Damage.self, "byte \(index) bit \(bit)") { try decoded(damaged) }
            }
        }
    }

    /// A change to an encoded snapshot of `variedRecords`, made before its sums are recomputed.
    enum Change: Sendable, CustomStringConvertible {
        case setByte(at: Int, to: UInt8)
        case orByte(at: Int, with: UInt8)
        case secondDigestAsFirst

        var description: String {
            switch self {
            case .setByte(let offset, let value): return "byte \(offset) set to \(value)"
            case .orByte(let offset, let bits): return "byte \(offset) ORed with \(bits)"
            case .secondDigestAsFirst: return "the second row's digest made the first's"
            }
        }
    }

    /// Damage a checksum cannot catch (the sums recomputed over it): the rows and names are
    /// checked themselves, so no table is ever built from them. Rows start at 64 and are 72
    /// bytes (name offset at +64, volume and flags at +68, flags in the top byte); the names
    /// start after the five rows.
    @Test("Snapshot: rows and names that match their checksum but no table are refused",
          arguments: [
            (Change.setByte(at: 64 + 72 + 64, to: 1), "does not start where"),
            (Change.setByte(at: 64 + 72 + 71, to: 0x20), "not a valid record"),
            (Change.setByte(at: 64 + 68, to: 5), "not a valid record"),
            (Change.orByte(at: 64 + 39, with: 0x80), "not a valid record"),
            (Change.setByte(at: 64 + 5 * 72 + 1, to: 0x09), "tab"),
            (Change.setByte(at: 64 + 5 * 72 + 1, to: 0x0A), "names for"),
            (Change.setByte(at: 64 + 5 * 72 + 1, to: 0xFF), "UTF-8"),
            (Change.secondDigestAsFirst, "same digest"),
          ])
    func checkedBeyondTheChecksum(change: Change, phrase: String) throws {
        var table = CompactRecordTable()
        for record in variedRecords { table.store(record) }
        var bytes = encoded(table, lines: variedLines)
        switch change {
        case .setByte(let offset, let value): bytes[offset] = value
        case .orByte(let offset, let bits): bytes[offset] |= bits
        case .secondDigestAsFirst: bytes.replaceSubrange((64 + 72)..<(64 + 72 + 32), with: bytes[64..<96])
        }
        let failure = try #require(throws: BinaryStateSnapshot.Damage.self, "\(change)") { try decoded(resummed(bytes)) }
        #expect(failure.description.contains(phrase), "\(change): \(failure)")
    }

    @Test("Snapshot: a header announcing more than a state holds is refused before anything is allocated")
    func hugeCounts() throws {
        var bytes = encoded(CompactRecordTable())
        bytes.replaceSubrange(32..<40, with: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F])
        let failure = try #require(throws: BinaryStateSnapshot.Damage.self) { try decoded(bytes) }
        #expect(failure.description.contains("more than a state holds"))
    }
}
