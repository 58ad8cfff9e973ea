#if !_endian(little)
#error("format-5 snapshots hold the record table's rows as little-endian memory; byte-swap them on this platform")
#endif

/// Format 5 of the state snapshot: the record table's rows as they lie in memory, its names,
/// its volumes, then the attempts and breaker lines as text, closed by a checksum.
///
/// Decoding 140 MB of text lines was most of the time it took to load a million records
/// (issue #14); a format-5 snapshot loads with a few `read(2)` calls straight into the row
/// array, a check of every row and name, and a rebuild of the two indexes. The journal stays
/// text lines (format 4): an append must stay one cheap line, and a torn one easy to spot.
///
/// Layout, every integer little-endian and every section a multiple of 8 bytes:
/// - header, 64 bytes: `BLASTWARE-FORWARDER-STATE 5\n` (28 bytes, so that an earlier release
///   refuses the file by its version), a UInt32 row size (72), then four UInt64: the number of
///   records, of name bytes, of volumes and of line bytes;
/// - rows, 72 bytes each: the digest's four words (each the big-endian reading of 8 digest
///   bytes), byte count, accepted at (ns since 1970), modification time (ns, 0 without a
///   fingerprint), identity's file number (0 without one), a UInt32 offset of the name in the
///   names, and a UInt32 of flags (bit 31 had report, bit 30 fingerprint, bit 29 identity) over
///   the identity's volume index (29 bits, 0 without one);
/// - names: each record's UTF-8 name then a newline, in row order, zero-padded;
/// - volumes: the identities' volume numbers, UInt64 each;
/// - lines: the attempts and breaker lines in the text format (`StateRecordCodec`), zero-padded;
/// - trailer, 16 bytes: Fletcher-style sums of every 8-byte word before it (`a += word`,
///   `b += a`, wrapping), `a` then `b`.
///
/// The header's counts give the file's exact size, so a cut-off file is found before anything
/// is read; the sums find a changed byte; and every row and name is checked as well, so that
/// even a file made to match its sums loads into a valid table or is refused.
public enum BinaryStateSnapshot {
    /// The version number in the header line.
    public static let version = 5
    /// The file's first line.
    public static let headerLine = "BLASTWARE-FORWARDER-STATE 5\n"
    static let headerByteCount = 64
    static let trailerByteCount = 16
    static let rowByteCount = 72

    /// What is wrong with a format-5 snapshot, in words for the operator.
    public struct Damage: Error, Hashable, Sendable, CustomStringConvertible {
        public var description: String

        init(_ description: String) {
            self.description = description
        }
    }

    /// A loaded snapshot: its records, and its attempts and breaker lines in file order.
    public struct Decoded: Sendable {
        public var table: CompactRecordTable
        public var lines: [StateLine]
    }

    /// Whether `prefix`, a file's first bytes, starts with the format-5 header line.
    public static func hasHeader(_ prefix: some Collection<UInt8>) -> Bool {
        prefix.starts(with: headerLine.utf8)
    }

    /// Writes `table` and `lines` (attempts and breaker lines) as a format-5 snapshot, in
    /// pieces through `emit`, never the whole file in memory.
    public static func encode(_ table: CompactRecordTable, lines: [StateLine],
                              emit: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        var checksum = SnapshotChecksum()
        try table.encodeSnapshotSections(lines: lines) { bytes in
            checksum.add(bytes)
            try emit(bytes)
        }
        var trailer = (checksum.low.littleEndian, checksum.high.littleEndian)
        try withUnsafeBytes(of: &trailer) { try emit($0) }
    }

    /// Reads a format-5 snapshot of `byteCount` bytes, front to back, through `read`, which fills
    /// each buffer it is given from the file or throws.
    ///
    /// The table is sized for `spare` more records and name bytes (the journal's), so that
    /// replaying them does not grow it. Throws `Damage` for a file that is cut short, changed,
    /// or holds something a table cannot.
    public static func decode(byteCount: Int, spare: (records: Int, nameBytes: Int) = (0, 0),
                              read: (UnsafeMutableRawBufferPointer) throws -> Void) throws -> Decoded {
        guard byteCount >= headerByteCount + trailerByteCount else {
            throw Damage("it is \(byteCount) bytes, too short for a format-5 snapshot's header and checksum (cut short?)")
        }
        var checksum = SnapshotChecksum()
        var header = SnapshotHeader()
        try withUnsafeMutableBytes(of: &header) { raw in
            try read(raw)
            checksum.add(UnsafeRawBufferPointer(raw))
        }
        let sections = try header.sections(fileByteCount: byteCount)
        return try withoutActuallyEscaping(read) { read in
            var reader = SnapshotReader(read: read, checksum: checksum)
            return try CompactRecordTable.decodeSnapshotSections(sections, spare: spare, reader: &reader)
        }
    }
}

/// The fixed 64 bytes at the start of a format-5 snapshot.
struct SnapshotHeader {
    var line: (UInt64, UInt64, UInt64, UInt32) = (0, 0, 0, 0)
    var rowByteCount: UInt32 = 0
    var recordCount: UInt64 = 0
    var nameByteCount: UInt64 = 0
    var volumeCount: UInt64 = 0
    var lineByteCount: UInt64 = 0

    init() {}

    init(recordCount: Int, nameByteCount: Int, volumeCount: Int, lineByteCount: Int) {
        withUnsafeMutableBytes(of: &line) { raw in
            raw.copyBytes(from: BinaryStateSnapshot.headerLine.utf8)
        }
        rowByteCount = UInt32(BinaryStateSnapshot.rowByteCount).littleEndian
        self.recordCount = UInt64(recordCount).littleEndian
        self.nameByteCount = UInt64(nameByteCount).littleEndian
        self.volumeCount = UInt64(volumeCount).littleEndian
        self.lineByteCount = UInt64(lineByteCount).littleEndian
    }

    /// The sizes of the sections the header announces, checked against the file's size and
    /// against what a record table can hold.
    func sections(fileByteCount: Int) throws -> SnapshotSections {
        var line = self.line
        let headerLine = withUnsafeBytes(of: &line) { Array($0) }
        guard BinaryStateSnapshot.hasHeader(headerLine) else {
            throw BinaryStateSnapshot.Damage("its first line is not \(BinaryStateSnapshot.headerLine.debugDescription)")
        }
        guard UInt32(littleEndian: rowByteCount) == UInt32(BinaryStateSnapshot.rowByteCount) else {
            throw BinaryStateSnapshot.Damage("its header gives rows of \(UInt32(littleEndian: rowByteCount)) bytes, not "
                                                 + "\(BinaryStateSnapshot.rowByteCount)")
        }
        let records = UInt64(littleEndian: recordCount)
        let nameBytes = UInt64(littleEndian: nameByteCount)
        let volumes = UInt64(littleEndian: volumeCount)
        let lineBytes = UInt64(littleEndian: lineByteCount)
        // Each bound keeps the size arithmetic below far from overflow.
        guard records < UInt64(CompactRecordTable.rowMask), nameBytes < UInt64(UInt32.max),
              volumes <= UInt64(CompactRecordTable.Flag.volumeMask), lineBytes < 1 << 40 else {
            throw BinaryStateSnapshot.Damage("its header announces \(records) records, \(nameBytes) name bytes, \(volumes) "
                                                 + "volumes and \(lineBytes) line bytes, more than a state holds")
        }
        let sections = SnapshotSections(recordCount: Int(records), nameByteCount: Int(nameBytes),
                                        volumeCount: Int(volumes), lineByteCount: Int(lineBytes))
        guard sections.fileByteCount == fileByteCount else {
            throw BinaryStateSnapshot.Damage("it is \(fileByteCount) bytes but its header announces \(sections.fileByteCount) "
                                                 + "(\(records) records): "
                                                 + (fileByteCount < sections.fileByteCount ? "it was cut short" : "it has extra bytes"))
        }
        return sections
    }
}

/// The sizes of a format-5 snapshot's sections.
struct SnapshotSections {
    var recordCount: Int
    var nameByteCount: Int
    var volumeCount: Int
    var lineByteCount: Int

    static func padding(_ byteCount: Int) -> Int { (8 - byteCount % 8) % 8 }

    var fileByteCount: Int {
        BinaryStateSnapshot.headerByteCount + recordCount * BinaryStateSnapshot.rowByteCount
            + nameByteCount + Self.padding(nameByteCount) + volumeCount * 8
            + lineByteCount + Self.padding(lineByteCount) + BinaryStateSnapshot.trailerByteCount
    }
}

/// Reads a snapshot's sections in order, adding every byte to the checksum.
struct SnapshotReader {
    let read: (UnsafeMutableRawBufferPointer) throws -> Void
    var checksum: SnapshotChecksum

    /// Bytes read (and summed) per `read` call: small enough that the sum reads them from the cache.
    private static let pieceByteCount = 1 << 18

    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) throws {
        var start = 0
        while start < buffer.count {
            let piece = UnsafeMutableRawBufferPointer(rebasing: buffer[start..<min(buffer.count, start + Self.pieceByteCount)])
            try read(piece)
            checksum.add(UnsafeRawBufferPointer(piece))
            start += piece.count
        }
    }

    /// Reads a section's zero padding; anything else there is damage.
    mutating func skipPadding(after byteCount: Int, of section: String) throws {
        var padding: UInt64 = 0
        let count = SnapshotSections.padding(byteCount)
        try withUnsafeMutableBytes(of: &padding) { try fill(UnsafeMutableRawBufferPointer(rebasing: $0[..<count])) }
        guard padding == 0 else { throw BinaryStateSnapshot.Damage("the padding after its \(section) is not zero") }
    }

    /// Reads the trailer and compares it with the sums of everything before it.
    mutating func checkTrailer() throws {
        var trailer: (UInt64, UInt64) = (0, 0)
        try withUnsafeMutableBytes(of: &trailer) { try read($0) }
        guard UInt64(littleEndian: trailer.0) == checksum.low, UInt64(littleEndian: trailer.1) == checksum.high else {
            throw BinaryStateSnapshot.Damage("its checksum does not match its contents: the file was changed or damaged")
        }
    }
}

/// Fletcher-style sums of a byte stream's little-endian 64-bit words: any changed byte changes
/// `low`, and a moved word changes `high`. Bytes may come in pieces of any length.
struct SnapshotChecksum {
    private(set) var low: UInt64 = 0
    private(set) var high: UInt64 = 0
    /// The bytes of an unfinished word, and how many.
    private var partial: UInt64 = 0
    private var partialCount = 0

    mutating func add(_ bytes: UnsafeRawBufferPointer) {
        var index = 0
        if partialCount > 0 {
            while partialCount < 8, index < bytes.count {
                partial |= UInt64(bytes[index]) << (8 * partialCount)
                partialCount += 1
                index += 1
            }
            guard partialCount == 8 else { return }
            addWord(partial)
            partial = 0
            partialCount = 0
        }
        var (low, high) = (self.low, self.high)
        while index + 8 <= bytes.count {
            low &+= UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            high &+= low
            index += 8
        }
        (self.low, self.high) = (low, high)
        while index < bytes.count {
            partial |= UInt64(bytes[index]) << (8 * partialCount)
            partialCount += 1
            index += 1
        }
    }

    private mutating func addWord(_ word: UInt64) {
        low &+= word
        high &+= low
    }
}
