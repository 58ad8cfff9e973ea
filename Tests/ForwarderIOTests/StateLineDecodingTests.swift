import ForwarderCore
import ForwarderIO
import Foundation
import Testing

/// The state line decoder at its edges (issue #14 made it read fields in place): what it
/// refuses is refused by loading with the line named, and the extreme values it must accept
/// read back exactly.
@Suite("State line decoding")
struct StateLineDecodingTests {
    static let digestHex = "d23f0824128b2f330c5c7fd0a6a3a4506513270e269e0d37f2a74de452e6b438"

    /// A damaged third line, and why it is damaged.
    struct DamagedLine: Sendable, CustomTestStringConvertible {
        var label: String
        var bytes: [UInt8]
        var testDescription: String { label }

        init(_ label: String, _ text: String) {
            self.label = label
            bytes = Array(text.utf8)
        }

        init(_ label: String, bytes: [UInt8]) {
            self.label = label
            self.bytes = bytes
        }
    }

    static let damagedLines: [DamagedLine] = [
        DamagedLine("a digest with a character that is not hex", "\(digestHex.dropLast())g\t10\t1\t5\t6\t7:8\tN1.AB0"),
        DamagedLine("a digest one character short", "\(digestHex.dropLast())\t10\t1\t5\t6\t7:8\tN1.AB0"),
        DamagedLine("a digest one character long", "\(digestHex)0\t10\t1\t5\t6\t7:8\tN1.AB0"),
        DamagedLine("a byte count past Int64.max", "\(digestHex)\t9223372036854775808\t1\t5\t6\t7:8\tN1.AB0"),
        DamagedLine("a byte count of 21 digits", "\(digestHex)\t000000000000000000010\t1\t5\t6\t7:8\tN1.AB0"),
        DamagedLine("a negative byte count", "\(digestHex)\t-1\t1\t5\t6\t7:8\tN1.AB0"),
        DamagedLine("a time below Int64.min", "\(digestHex)\t10\t1\t-9223372036854775809\t6\t7:8\tN1.AB0"),
        DamagedLine("a sign without digits", "\(digestHex)\t10\t1\t-\t6\t7:8\tN1.AB0"),
        DamagedLine("a plus sign", "\(digestHex)\t10\t1\t+5\t6\t7:8\tN1.AB0"),
        DamagedLine("an empty number", "\(digestHex)\t\t1\t5\t6\t7:8\tN1.AB0"),
        DamagedLine("a report flag of 2", "\(digestHex)\t10\t2\t5\t6\t7:8\tN1.AB0"),
        DamagedLine("an identity without a colon", "\(digestHex)\t10\t1\t5\t6\t78\tN1.AB0"),
        DamagedLine("an identity volume past UInt64.max", "\(digestHex)\t10\t1\t5\t6\t18446744073709551616:8\tN1.AB0"),
        DamagedLine("an identity without a modification time", "\(digestHex)\t10\t1\t5\t-\t7:8\tN1.AB0"),
        DamagedLine("an empty name", "\(digestHex)\t10\t1\t5\t6\t7:8\t"),
        DamagedLine("a missing field", "\(digestHex)\t10\t1\t5\t6\tN1.AB0"),
        DamagedLine("a name with a tab", "\(digestHex)\t10\t1\t5\t6\t7:8\tN1\tAB0"),
        DamagedLine("a name that is not UTF-8", bytes: Array("\(digestHex)\t10\t1\t5\t6\t7:8\tN1".utf8) + [0xC3, 0x28]),
        DamagedLine("attempts with a missing field", "A\t\(digestHex)\t1\t0\t0\t5\t6\t10\t6\t7:8\tN1.AB0"),
        DamagedLine("attempts with no failure", "A\t\(digestHex)\t0\t0\t0\t5\t6\t10\t6\t7:8\terror\tN1.AB0"),
        DamagedLine("a breaker count past Int32.max", "B\t2147483648"),
        DamagedLine("a release without a name", "R\t"),
    ]

    @Test("State line decoding: a damaged line is refused naming its line number, by the writer and by status",
          arguments: damagedLines)
    func damagedLineIsRefused(_ damage: DamagedLine) throws {
        let folder = try TemporaryFolder("state-line")
        let path = folder.file("state")
        let valid = StateRecordCodec.encode(sampleRecord(0))
        let snapshot = Array((StateRecordCodec.header + "\n" + valid).utf8) + damage.bytes + [UInt8(ascii: "\n")]
            + Array(StateRecordCodec.encode(sampleRecord(1)).utf8)
        try Data(snapshot).write(to: URL(fileURLWithPath: path))

        for readOnly in [false, true] {
            let error = try #require(throws: StateFileError.self) { try FileStateStore(path: path, readOnly: readOnly) }
            #expect(error.kind == .corruptLine(3))
            #expect(error.description.contains("line 3 is not a valid record"), "\(error)")
        }
    }

    @Test("State line decoding: the extreme values a record can hold load back exactly")
    func extremeValuesLoad() throws {
        let folder = try TemporaryFolder("state-line")
        let path = folder.file("state")
        let digest = try #require(EventDigest(hex: Self.digestHex.uppercased()))
        let records = [
            ForwardRecord(digest: digest, fileName: "Ünïcode name.TXT", byteCount: .max, hadReport: false,
                          forwardedAt: FileTime(nanosecondsSince1970: .min),
                          fingerprint: FileFingerprint(byteCount: .max, modificationTime: FileTime(nanosecondsSince1970: .max),
                                                       identity: FileIdentity(volume: .max, file: .max))),
            ForwardRecord(digest: EventDigest(of: Data("second".utf8)), fileName: "x", byteCount: 0, hadReport: true,
                          forwardedAt: FileTime(nanosecondsSince1970: -1), fingerprint: nil),
            ForwardRecord(digest: EventDigest(of: Data("third".utf8)), fileName: String(repeating: "long name ", count: 40),
                          byteCount: 1, hadReport: true, forwardedAt: FileTime(nanosecondsSince1970: 0),
                          fingerprint: FileFingerprint(byteCount: 1, modificationTime: FileTime(nanosecondsSince1970: .min),
                                                       identity: nil)),
        ]
        // The digest written in capitals: the decoder accepts either case.
        let text = StateRecordCodec.header + "\n" + records.map(StateRecordCodec.encode).joined()
            .replacingOccurrences(of: Self.digestHex, with: Self.digestHex.uppercased())
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))

        let store = try FileStateStore(path: path, readOnly: true)
        #expect(store.count == records.count)
        for record in records {
            #expect(store.record(for: record.digest) == record)
            #expect(store.record(forName: record.fileName) == record)
        }
    }

    @Test("State line decoding: lines apply in file order although accepted records are stored in batches")
    func batchesKeepLineOrder() throws {
        let folder = try TemporaryFolder("state-line")
        let path = folder.file("state")
        func attempts(_ index: Int) -> DeliveryAttempts {
            let record = sampleRecord(index)
            return DeliveryAttempts(fileName: record.fileName, digest: record.digest, fingerprint: record.fingerprint!,
                                    failures: 1, rejections: 0, lastAttemptAt: FileTime(nanosecondsSince1970: 5),
                                    nextAttemptAt: FileTime(nanosecondsSince1970: 6), quarantined: false, lastError: "refused")
        }
        // Record 3 accepted early in a batch, then tried again and failed: its attempts must
        // survive. Record 50's attempts come first and its acceptance, in a later batch, clears them.
        var lines: [StateLine] = [.attempts(attempts(50))]
        lines += (0..<10).map { .accepted(sampleRecord($0)) }
        lines.append(.attempts(attempts(3)))
        lines += (10..<100).map { .accepted(sampleRecord($0)) }
        lines.append(.accepted(sampleRecord(3, hadReport: false)))
        lines += (100..<140).map { .accepted(sampleRecord($0)) }
        let text = StateRecordCodec.header + "\n" + lines.map(StateRecordCodec.encode).joined()
        try Data(text.utf8).write(to: URL(fileURLWithPath: path + ".journal"))
        try Data((StateRecordCodec.header + "\n").utf8).write(to: URL(fileURLWithPath: path))

        let store = try FileStateStore(path: path, readOnly: true)
        #expect(store.count == 140)
        #expect(store.attempts(forName: sampleRecord(50).fileName) == nil, "its acceptance came after its attempts")
        #expect(store.attempts(forName: sampleRecord(3).fileName) == nil, "accepted again after its attempts")
        #expect(store.record(for: sampleRecord(3).digest)?.hadReport == false, "the later line for a digest wins")
        #expect(store.allAttempts().isEmpty)

        // Without the second acceptance, record 3's attempts stand.
        let kept = StateRecordCodec.header + "\n" + lines.prefix(101).map(StateRecordCodec.encode).joined()
        try Data(kept.utf8).write(to: URL(fileURLWithPath: path + ".journal"))
        let reopened = try FileStateStore(path: path, readOnly: true)
        #expect(reopened.attempts(forName: sampleRecord(3).fileName) == attempts(3))
        #expect(reopened.attempts(forName: sampleRecord(50).fileName) == nil)
    }

    @Test("State line decoding: the fields decoded in place describe the record the line encodes")
    func fieldsMatchRecord() throws {
        let record = ForwardRecord(digest: EventDigest(of: Data("fields".utf8)), fileName: "N844L20G.630H", byteCount: 42,
                                   hadReport: true, forwardedAt: FileTime(nanosecondsSince1970: 1_790_000_000_000_000_000),
                                   fingerprint: FileFingerprint(byteCount: 42, modificationTime: FileTime(nanosecondsSince1970: 7),
                                                                identity: FileIdentity(volume: 2049, file: 123)))
        let line = Array(StateRecordCodec.encode(record).utf8.dropLast())
        let decoded = line.withUnsafeBufferPointer { bytes -> ForwardRecord? in
            #expect(StateRecordCodec.isAcceptedLine(bytes))
            return StateRecordCodec.decodeFields(bytes).map(ForwardRecord.init)
        }
        #expect(decoded == record)
    }
}
