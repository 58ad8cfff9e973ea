import ForwarderCore
import Testing

@Suite("CompactRecordTable")
struct CompactRecordTableTests {
    /// A digest whose first word, the index's probe start, is `firstWord`: equal first words
    /// collide in the digest index whatever its size.
    func digest(firstWord: UInt64, rest: UInt64) -> EventDigest {
        let hex = [firstWord, rest, ~rest, rest &* 31].map { word -> String in
            let text = String(word, radix: 16)
            return String(repeating: "0", count: 16 - text.count) + text
        }.joined()
        return EventDigest(hex: hex)!
    }

    func record(_ index: Int, firstWord: UInt64? = nil, name: String? = nil, hadReport: Bool = true,
                fingerprint: Bool = true, identity: FileIdentity? = nil) -> ForwardRecord {
        let time = FileTime(nanosecondsSince1970: Int64(index) * 1_000_000_007)
        return ForwardRecord(digest: digest(firstWord: firstWord ?? UInt64(index) &* 0x9E37_79B9_7F4A_7C15, rest: UInt64(index)),
                             fileName: name ?? "N\(index).AB0W", byteCount: Int64(1000 + index), hadReport: hadReport,
                             forwardedAt: time,
                             fingerprint: fingerprint ? FileFingerprint(byteCount: Int64(1000 + index), modificationTime: time - .seconds(5),
                                                                        identity: identity ?? FileIdentity(volume: 7, file: UInt64(index)))
                                 : nil)
    }

    @Test("CompactRecordTable: every field reads back as stored, with and without fingerprint and identity")
    func roundTrip() {
        var table = CompactRecordTable()
        let records = [
            record(1),
            record(2, hadReport: false, fingerprint: false),
            ForwardRecord(digest: digest(firstWord: 3, rest: 3), fileName: "Ünïcode name.TXT", byteCount: 0, hadReport: true,
                          forwardedAt: FileTime(nanosecondsSince1970: .min),
                          fingerprint: FileFingerprint(byteCount: 0, modificationTime: FileTime(nanosecondsSince1970: .max), identity: nil)),
            record(4, identity: FileIdentity(volume: .max, file: .max)),
            record(5, identity: FileIdentity(volume: 0, file: 0)),
        ]
        for record in records { table.store(record) }
        #expect(table.count == records.count)
        for record in records {
            #expect(table.record(for: record.digest) == record)
            #expect(table.record(forName: record.fileName) == record)
        }
        #expect(table.withoutReportCount == 1)
        var visited: [ForwardRecord] = []
        table.forEach { visited.append($0) }
        #expect(visited == records, "forEach visits every record once, in the order first stored")
    }

    @Test("CompactRecordTable: digests that collide in the index are all found, and absent ones are not")
    func collisions() {
        var table = CompactRecordTable()
        let colliding = (0..<40).map { record($0, firstWord: 0xABCD) }
        for record in colliding { table.store(record) }
        for record in colliding { #expect(table.record(for: record.digest) == record) }
        #expect(table.record(for: digest(firstWord: 0xABCD, rest: 999)) == nil)
        // Equal first words and equal tag bits (the second word's low six): only the rows tell them apart.
        let sameTag = (1...30).map { index in
            ForwardRecord(digest: digest(firstWord: 0xABCD, rest: UInt64(index) << 6), fileName: "T\(index)", byteCount: 1,
                          hadReport: true, forwardedAt: FileTime(nanosecondsSince1970: 0), fingerprint: nil)
        }
        for record in sameTag { table.store(record) }
        for record in sameTag + colliding { #expect(table.record(for: record.digest) == record) }
        #expect(table.record(for: digest(firstWord: 0xABCD, rest: 31 << 6)) == nil)
        #expect(table.record(forName: "N999.AB0W") == nil)
        #expect(table.count == 70)
    }

    @Test("CompactRecordTable: probes that start at the last slot wrap around to the first, at sizes that are not powers of two",
          arguments: [0, 37, 1_000])
    func wrapAround(reserved: Int) {
        var table = CompactRecordTable()
        table.reserveCapacity(records: reserved, nameBytes: 0)
        // The largest first word maps to the last slot of any index size.
        let atTheEnd = (0..<40).map { record($0, firstWord: .max) }
        let atTheStart = (40..<60).map { record($0, firstWord: 0) }
        for record in atTheEnd + atTheStart { table.store(record) }
        for record in atTheEnd + atTheStart {
            #expect(table.record(for: record.digest) == record)
            #expect(table.record(forName: record.fileName) == record)
        }
        #expect(table.record(for: digest(firstWord: .max, rest: 999)) == nil)
        #expect(table.record(for: digest(firstWord: 0, rest: 999)) == nil)
        #expect(table.count == 60)
    }

    @Test("CompactRecordTable: growing from empty past many doublings keeps every record findable by digest and name")
    func growth() {
        var table = CompactRecordTable()
        let records = (0..<5_000).map { record($0) }
        for (index, record) in records.enumerated() {
            table.store(record)
            if index.isMultiple(of: 997) {
                #expect(table.record(for: records[0].digest) == records[0])
            }
        }
        #expect(table.count == 5_000)
        for record in records {
            #expect(table.record(for: record.digest) == record)
            #expect(table.record(forName: record.fileName) == record)
        }
    }

    @Test("CompactRecordTable: a digest stored again replaces its record; the name answers the last record stored under it")
    func replacement() {
        var table = CompactRecordTable()
        let first = record(1, hadReport: false)
        table.store(first)
        var updated = first
        updated.hadReport = true
        updated.forwardedAt = first.forwardedAt + .seconds(60)
        table.store(updated)
        #expect(table.count == 1)
        #expect(table.record(for: first.digest) == updated)
        #expect(table.withoutReportCount == 0)

        // The same name, new content (a file replaced): the name answers the newer record.
        let replaced = record(2, name: first.fileName)
        table.store(replaced)
        #expect(table.count == 2)
        #expect(table.record(forName: first.fileName) == replaced)
        #expect(table.record(for: first.digest) == updated, "the older content stays known by its digest")

        // The first digest stored again under another name: that name finds it, the old name
        // still answers the newer record.
        var renamed = updated
        renamed.fileName = "RENAMED.AB0W"
        table.store(renamed)
        #expect(table.record(forName: "RENAMED.AB0W") == renamed)
        #expect(table.record(forName: first.fileName) == replaced)
        #expect(table.count == 2)
    }

    @Test("CompactRecordTable: names that are prefixes of each other are told apart")
    func prefixNames() {
        var table = CompactRecordTable()
        let short = record(1, name: "ABC")
        let long = record(2, name: "ABCD")
        table.store(long)
        table.store(short)
        #expect(table.record(forName: "ABC") == short)
        #expect(table.record(forName: "ABCD") == long)
        #expect(table.record(forName: "AB") == nil)
        #expect(table.record(forName: "ABCDE") == nil)
    }

    @Test("CompactRecordTable: reserving before storing changes nothing that is read back")
    func reserve() {
        var table = CompactRecordTable()
        table.reserveCapacity(records: 1_000, nameBytes: 20_000)
        let records = (0..<1_000).map { record($0) }
        for record in records { table.store(record) }
        table.reserveCapacity(records: 3_000, nameBytes: 60_000)
        for record in records { #expect(table.record(forName: record.fileName) == record) }
        #expect(table.count == 1_000)
    }
}
