/// The record table's side of format-5 snapshots (`BinaryStateSnapshot`): its rows, names and
/// volumes written as they lie in memory, and read back into place.
extension CompactRecordTable {
    /// Rows staged per write when their name offsets must be rewritten.
    private static let rowsPerPiece = 4096

    /// Emits the header, rows, names, volumes and lines of a format-5 snapshot (not its trailer).
    ///
    /// Names are written in row order, without the names of replaced records; when the table's
    /// name buffer already is exactly that (no record was replaced under a new name), rows and
    /// names go out straight from memory.
    func encodeSnapshotSections(lines: [StateLine], emit: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        var nameByteCount = 0
        var namesInRowOrder = true
        for index in rows.indices {
            if Int(rows[index].nameOffset) != nameByteCount { namesInRowOrder = false }
            nameByteCount += nameRange(of: index).count + 1
        }
        let lineBytes = Array(lines.map(StateRecordCodec.encode).joined().utf8)
        var header = SnapshotHeader(recordCount: rows.count, nameByteCount: nameByteCount, volumeCount: volumes.count,
                                    lineByteCount: lineBytes.count)
        try withUnsafeBytes(of: &header) { try emit($0) }
        if namesInRowOrder {
            try rows.withUnsafeBytes { try emit($0) }
            try nameBytes.withUnsafeBytes { try emit(UnsafeRawBufferPointer(rebasing: $0[..<nameByteCount])) }
        } else {
            try emitRowsWithNamesInRowOrder(emit)
            try nameBytes.withUnsafeBytes { names in
                for index in rows.indices {
                    let range = nameRange(of: index)
                    try emit(UnsafeRawBufferPointer(rebasing: names[range.lowerBound..<(range.upperBound + 1)]))
                }
            }
        }
        try emitPadding(after: nameByteCount, emit)
        try volumes.map(\.littleEndian).withUnsafeBytes { try emit($0) }
        try lineBytes.withUnsafeBytes { try emit($0) }
        try emitPadding(after: lineBytes.count, emit)
    }

    private func emitRowsWithNamesInRowOrder(_ emit: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        var piece: [Row] = []
        piece.reserveCapacity(Self.rowsPerPiece)
        var nameOffset = 0
        for index in rows.indices {
            var row = rows[index]
            row.nameOffset = UInt32(nameOffset)
            nameOffset += nameRange(of: index).count + 1
            piece.append(row)
            if piece.count == Self.rowsPerPiece || index == rows.count - 1 {
                try piece.withUnsafeBytes { try emit($0) }
                piece.removeAll(keepingCapacity: true)
            }
        }
    }

    private func emitPadding(after byteCount: Int, _ emit: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        var zero: UInt64 = 0
        try withUnsafeBytes(of: &zero) { try emit(UnsafeRawBufferPointer(rebasing: $0[..<SnapshotSections.padding(byteCount)])) }
    }

    /// Reads the rows, names, volumes and lines that `sections` announce, checks the trailer,
    /// then every row and name, and builds the indexes.
    static func decodeSnapshotSections(_ sections: SnapshotSections, spare: (records: Int, nameBytes: Int),
                                       reader: inout SnapshotReader) throws -> BinaryStateSnapshot.Decoded {
        var table = CompactRecordTable()
        table.rows = try [Row](unsafeUninitializedCapacity: sections.recordCount + max(0, spare.records)) { buffer, count in
            try reader.fill(UnsafeMutableRawBufferPointer(start: buffer.baseAddress,
                                                          count: sections.recordCount * MemoryLayout<Row>.stride))
            count = sections.recordCount
        }
        table.nameBytes = try [UInt8](unsafeUninitializedCapacity: sections.nameByteCount + max(0, spare.nameBytes)) { buffer, count in
            try reader.fill(UnsafeMutableRawBufferPointer(start: buffer.baseAddress, count: sections.nameByteCount))
            count = sections.nameByteCount
        }
        try reader.skipPadding(after: sections.nameByteCount, of: "names")
        table.volumes = try [UInt64](unsafeUninitializedCapacity: sections.volumeCount) { buffer, count in
            try reader.fill(UnsafeMutableRawBufferPointer(start: buffer.baseAddress, count: sections.volumeCount * 8))
            count = sections.volumeCount
        }
        for index in table.volumes.indices { table.volumes[index] = UInt64(littleEndian: table.volumes[index]) }
        let lineBytes = try [UInt8](unsafeUninitializedCapacity: sections.lineByteCount) { buffer, count in
            try reader.fill(UnsafeMutableRawBufferPointer(start: buffer.baseAddress, count: sections.lineByteCount))
            count = sections.lineByteCount
        }
        try reader.skipPadding(after: sections.lineByteCount, of: "lines")
        try reader.checkTrailer()

        try table.checkNames()
        try table.checkRows()
        let lines = try Self.decodeSnapshotLines(lineBytes)
        try table.rebuildIndexesRefusingSharedDigests(slotCount: slotCount(for: table.rows.count + max(0, spare.records)))
        return BinaryStateSnapshot.Decoded(table: table, lines: lines)
    }

    /// Checks that the names are one newline-ended name per row, none empty, none holding a
    /// tab, all valid UTF-8; a word at a time, because a million names are 14 MB.
    private func checkNames() throws {
        typealias Damage = BinaryStateSnapshot.Damage
        let ones: UInt64 = 0x0101_0101_0101_0101
        let lowSeven: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
        /// The high bit of every byte of `word` that is zero, and of no other.
        func zeroBytes(_ word: UInt64) -> UInt64 { ~(((word & lowSeven) &+ lowSeven) | word | lowSeven) }
        var newlines = 0
        var highBits: UInt64 = 0
        var tabs: UInt64 = 0
        nameBytes.withUnsafeBytes { names in
            var index = 0
            while index + 8 <= names.count {
                let word = names.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                highBits |= word
                tabs |= zeroBytes(word ^ (ones &* 0x09))
                newlines += zeroBytes(word ^ (ones &* 0x0A)).nonzeroBitCount
                index += 8
            }
            for byte in names[index...] {
                highBits |= UInt64(byte)
                if byte == 0x09 { tabs = 1 }
                if byte == 0x0A { newlines += 1 }
            }
        }
        guard tabs == 0 else { throw Damage("a file name in it holds a tab") }
        guard newlines == rows.count, nameBytes.last.map({ $0 == Self.nameEnd }) ?? true else {
            throw Damage("its names section holds \(newlines) names for \(rows.count) records")
        }
        if highBits & 0x8080_8080_8080_8080 != 0 {
            var iterator = nameBytes.makeIterator()
            var parser = Unicode.UTF8.ForwardParser()
            while true {
                switch parser.parseScalar(from: &iterator) {
                case .valid: continue
                case .emptyInput: return
                case .error: throw Damage("a file name in it is not valid UTF-8")
                }
            }
        }
    }

    /// Checks every row: its name starts right after the previous row's newline (so, with
    /// exactly one newline a row in the names, each row owns one non-empty name that ends where
    /// the next begins), its flags and volume agree, and its byte count is not negative.
    private func checkRows() throws {
        typealias Damage = BinaryStateSnapshot.Damage
        let knownFlags = Flag.hadReport | Flag.hasFingerprint | Flag.hasIdentity
        try rows.withUnsafeBufferPointer { rows in
            try nameBytes.withUnsafeBufferPointer { names in
                var previousOffset = -1
                for index in rows.indices {
                    let row = rows[index]
                    let offset = Int(row.nameOffset)
                    guard offset > previousOffset, offset < names.count, names[offset] != Self.nameEnd,
                          index == 0 ? offset == 0 : names[offset - 1] == Self.nameEnd else {
                        throw Damage("record \(index + 1)'s name does not start where the previous one ends")
                    }
                    previousOffset = offset
                    let flags = row.flagsAndVolume & knownFlags
                    let volume = row.flagsAndVolume & Flag.volumeMask
                    let consistent: Bool
                    switch flags & ~Flag.hadReport {
                    case 0: consistent = row.modificationTime == 0 && row.identityFile == 0 && volume == 0
                    case Flag.hasFingerprint: consistent = row.identityFile == 0 && volume == 0
                    case Flag.hasFingerprint | Flag.hasIdentity: consistent = Int(volume) < volumes.count
                    default: consistent = false
                    }
                    guard consistent, row.byteCount >= 0 else {
                        throw Damage("record \(index + 1) is not a valid record (flags, volume or byte count)")
                    }
                }
            }
        }
    }

    /// The attempts and breaker lines of a snapshot; any other line, or a malformed one, is damage.
    private static func decodeSnapshotLines(_ bytes: [UInt8]) throws -> [StateLine] {
        guard !bytes.isEmpty else { return [] }
        guard bytes.last == UInt8(ascii: "\n") else {
            throw BinaryStateSnapshot.Damage("its last attempts line does not end in a newline")
        }
        var lines: [StateLine] = []
        try bytes.withUnsafeBufferPointer { buffer in
            var start = 0
            for index in buffer.indices where buffer[index] == UInt8(ascii: "\n") {
                let line = StateRecordCodec.decodeLine(UnsafeBufferPointer(rebasing: buffer[start..<index]))
                switch line {
                case .attempts?, .consecutiveFailures?: lines.append(line!)
                default: throw BinaryStateSnapshot.Damage("its attempts line \(lines.count + 1) is not a valid attempts or breaker line")
                }
                start = index + 1
            }
        }
        return lines
    }

    /// Builds both indexes with `slotCount` slots over rows just read and checked (names in row
    /// order, each ending where the next row's starts); two rows with one digest are damage (a
    /// table holds one record a digest). Of two rows with one name, the later is indexed.
    ///
    /// This is most of loading a format-5 snapshot: two slots a record in 10 MB of indexes,
    /// each a likely cache miss. Rows go in batches whose first slots are all read before any
    /// is written, so that the misses overlap, as in `store(contentsOf:)`.
    private mutating func rebuildIndexesRefusingSharedDigests(slotCount: Int) throws {
        var digestSlots = [UInt32](repeating: Self.emptySlot, count: slotCount)
        var nameSlots = [UInt32](repeating: Self.emptySlot, count: slotCount)
        var touched: UInt32 = 0
        try rows.withUnsafeBufferPointer { rows in
            try nameBytes.withUnsafeBufferPointer { names in
                try digestSlots.withUnsafeMutableBufferPointer { digestSlots in
                    try nameSlots.withUnsafeMutableBufferPointer { nameSlots in
                        var index = SnapshotIndexBuilder(rows: rows, names: names, digestSlots: digestSlots, nameSlots: nameSlots)
                        touched = try index.insertAll()
                    }
                }
            }
        }
        self.digestSlots = digestSlots
        self.nameSlots = nameSlots
        prefetchedSlotBits = touched
    }
}

/// Inserts every row of a freshly read snapshot into empty indexes, over raw buffers (no
/// per-access bounds or uniqueness checks in the hot loop; the rows and names were checked).
private struct SnapshotIndexBuilder {
    typealias Table = CompactRecordTable
    let rows: UnsafeBufferPointer<Table.Row>
    let names: UnsafeBufferPointer<UInt8>
    let digestSlots: UnsafeMutableBufferPointer<UInt32>
    let nameSlots: UnsafeMutableBufferPointer<UInt32>
    private static let batchCount = 64

    init(rows: UnsafeBufferPointer<Table.Row>, names: UnsafeBufferPointer<UInt8>,
         digestSlots: UnsafeMutableBufferPointer<UInt32>, nameSlots: UnsafeMutableBufferPointer<UInt32>) {
        self.rows = rows
        self.names = names
        self.digestSlots = digestSlots
        self.nameSlots = nameSlots
    }

    /// Inserts all rows; returns the bits of the slots read ahead, for the caller to keep so
    /// that those reads are not optimised away.
    ///
    /// Each batch is done in three loops: hashes and first slots, then the reads of those
    /// slots (a short loop, so that many misses are in flight at once), then the inserts.
    mutating func insertAll() throws -> UInt32 {
        var touched: UInt32 = 0
        let batch = UnsafeMutableBufferPointer<(nameHash: UInt64, digestSlot: Int, nameSlot: Int)>.allocate(capacity: Self.batchCount)
        defer { batch.deallocate() }
        var batchStart = 0
        while batchStart < rows.count {
            let batchEnd = min(rows.count, batchStart + Self.batchCount)
            for row in batchStart..<batchEnd {
                let hash = Table.nameHash(nameBytes(of: row))
                batch[row - batchStart] = (hash, Table.firstSlot(rows[row].digest.words.0, slotCount: digestSlots.count),
                                           Table.firstSlot(hash, slotCount: nameSlots.count))
            }
            for index in 0..<(batchEnd - batchStart) {
                touched |= digestSlots[batch[index].digestSlot] | nameSlots[batch[index].nameSlot]
            }
            for row in batchStart..<batchEnd {
                let first = batch[row - batchStart]
                try insertDigest(row: row, from: first.digestSlot)
                insertName(row: row, hash: first.nameHash, from: first.nameSlot)
            }
            batchStart = batchEnd
        }
        return touched
    }

    /// The name of `row` without its newline: it ends where the next row's begins.
    private func nameBytes(of row: Int) -> UnsafeBufferPointer<UInt8> {
        let start = Int(rows[row].nameOffset)
        let end = row + 1 < rows.count ? Int(rows[row + 1].nameOffset) : names.count
        return UnsafeBufferPointer(rebasing: names[start..<(end - 1)])
    }

    private func insertDigest(row: Int, from firstSlot: Int) throws {
        let digest = rows[row].digest
        let tag = Table.digestTag(digest)
        var slot = firstSlot
        while digestSlots[slot] != Table.emptySlot {
            let value = digestSlots[slot]
            if value >> Table.rowBits == tag, rows[Table.row(inSlot: value)].digest == digest {
                throw BinaryStateSnapshot.Damage("records \(Table.row(inSlot: value) + 1) and \(row + 1) have the same digest \(digest.hex)")
            }
            slot += 1
            if slot == digestSlots.count { slot = 0 }
        }
        digestSlots[slot] = Table.slotValue(row: row, tag: tag)
    }

    /// Points the slot of `row`'s name at it, replacing an earlier row of the same name.
    private func insertName(row: Int, hash: UInt64, from firstSlot: Int) {
        let tag = Table.nameTag(hash)
        var slot = firstSlot
        while nameSlots[slot] != Table.emptySlot {
            let value = nameSlots[slot]
            if value >> Table.rowBits == tag, nameBytes(of: Table.row(inSlot: value)).elementsEqual(nameBytes(of: row)) { break }
            slot += 1
            if slot == nameSlots.count { slot = 0 }
        }
        nameSlots[slot] = Table.slotValue(row: row, tag: tag)
    }
}
