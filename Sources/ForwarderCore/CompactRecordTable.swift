/// The accepted records of a forwarding state, packed for a million of them.
///
/// Each record is a 72-byte row in one contiguous array; file names live in one byte buffer,
/// each ended by a newline (which a stored name cannot contain); the digest and name indexes
/// are open-addressed arrays of row numbers, each with a few bits of its key's hash. Nothing
/// is allocated per record, so a million-record state costs about 100 bytes a record instead
/// of the 400-odd that a dictionary of `ForwardRecord` values and its copies did (issue #14).
///
/// A record stored again under a digest it already holds replaces that row. The name index
/// answers the record stored last under a name, which is what the digest cache needs.
public struct CompactRecordTable: Sendable {
    /// One record, fixed size: 72 bytes.
    struct Row {
        var digest: EventDigest
        var byteCount: Int64
        var forwardedAt: Int64
        var modificationTime: Int64
        var identityFile: UInt64
        /// Where the name starts in `nameBytes`.
        var nameOffset: UInt32
        /// `Flag` bits, and the index of the identity's volume in `volumes` below them.
        var flagsAndVolume: UInt32
    }

    enum Flag {
        static let hadReport: UInt32 = 1 << 31
        static let hasFingerprint: UInt32 = 1 << 30
        static let hasIdentity: UInt32 = 1 << 29
        static let volumeMask: UInt32 = (1 << 29) - 1
    }

    /// A slot holds `tag << rowBits | (row + 1)`, 0 when free: six bits of the key's hash
    /// beside the row number, so that a probe reads the row (a cache miss in a large table)
    /// only when the tag matches, one time in 64 for another key.
    static let emptySlot: UInt32 = 0
    static let rowBits: UInt32 = 26
    static let rowMask: UInt32 = (1 << rowBits) - 1
    static let nameEnd = UInt8(ascii: "\n")

    var rows: [Row] = []
    var nameBytes: [UInt8] = []
    /// The distinct volumes of identities; a folder's files share one or a few.
    var volumes: [UInt64] = []
    /// Row numbers by digest, `emptySlot` where free; probed linearly from the digest's first word.
    var digestSlots: [UInt32] = []
    /// Row numbers by file name, probed linearly from the name's hash.
    var nameSlots: [UInt32] = []
    /// The bits of the slots `store(contentsOf:)` read ahead; read by nothing else.
    var prefetchedSlotBits: UInt32 = 0

    public init() {}

    /// How many records the table holds (one per digest).
    public var count: Int { rows.count }

    /// Makes room for `recordCount` records and `nameByteCount` bytes of names without growing again.
    public mutating func reserveCapacity(records recordCount: Int, nameBytes nameByteCount: Int) {
        rows.reserveCapacity(recordCount)
        nameBytes.reserveCapacity(nameByteCount)
        if Self.slotCount(for: recordCount) > digestSlots.count { rebuildIndexes(slotCount: Self.slotCount(for: recordCount)) }
    }

    /// The record stored for `digest`, if any.
    public func record(for digest: EventDigest) -> ForwardRecord? {
        digestRow(of: digest).map { record(at: $0) }
    }

    /// The record stored last under `fileName`, if any.
    public func record(forName fileName: String) -> ForwardRecord? {
        var name = fileName
        return name.withUTF8 { nameRow(of: $0) }.map { record(at: $0) }
    }

    /// How many records were accepted without their report.
    public var withoutReportCount: Int {
        rows.reduce(0) { $0 + ($1.flagsAndVolume & Flag.hadReport == 0 ? 1 : 0) }
    }

    /// Calls `body` with every record, in the order they were first stored.
    public func forEach(_ body: (ForwardRecord) throws -> Void) rethrows {
        for index in rows.indices { try body(record(at: index)) }
    }

    /// Adds `record`, or replaces the record stored for its digest.
    ///
    /// The name must not contain a newline (`StateRecordCodec.isStorableFileName`).
    public mutating func store(_ record: ForwardRecord) {
        ForwardRecordFields.withFields(of: record) { store($0) }
    }

    /// Adds the record `fields` describe, or replaces the record stored for its digest; the
    /// name's bytes are copied into the table.
    public mutating func store(_ fields: ForwardRecordFields) {
        if rows.count + 1 > Self.maximumLoad(digestSlots.count) {
            rebuildIndexes(slotCount: Self.slotCount(for: max(rows.count + 1, rows.count * 2)))
        }
        let nameUTF8 = fields.fileNameUTF8
        let (slot, existing) = digestSlot(of: fields.digest)
        if let existing {
            let keepsName = nameMatches(row: existing, nameUTF8)
            rows[existing] = row(for: fields, nameOffset: keepsName ? rows[existing].nameOffset : appendName(nameUTF8))
            if !keepsName { insertName(row: existing, hash: Self.nameHash(nameUTF8)) }
            return
        }
        let index = rows.count
        precondition(index < Int(Self.rowMask), "a state holds at most 2^26 - 1 records")
        rows.append(row(for: fields, nameOffset: appendName(nameUTF8)))
        digestSlots[slot] = Self.slotValue(row: index, tag: Self.digestTag(fields.digest))
        insertName(row: index, hash: Self.nameHash(nameUTF8))
    }

    /// Stores the records of `batch` in order, as `store(_:)` one by one would.
    ///
    /// Loading calls this with a few dozen lines at a time: the first index slot of every
    /// record is read before any is stored, so the cache misses of a large table (two a
    /// record) overlap instead of each record waiting for its own.
    public mutating func store(contentsOf batch: UnsafeBufferPointer<ForwardRecordFields>) {
        if rows.count + batch.count > Self.maximumLoad(digestSlots.count) {
            rebuildIndexes(slotCount: Self.slotCount(for: max(rows.count + batch.count, rows.count * 2)))
        }
        withUnsafeTemporaryAllocation(of: Int.self, capacity: batch.count * 2) { firstSlots in
            for (index, fields) in batch.enumerated() {
                firstSlots[2 * index] = Self.firstSlot(fields.digest.words.0, slotCount: digestSlots.count)
                firstSlots[2 * index + 1] = Self.firstSlot(Self.nameHash(fields.fileNameUTF8), slotCount: nameSlots.count)
            }
            var touched: UInt32 = 0
            for index in batch.indices {
                touched |= digestSlots[firstSlots[2 * index]] | nameSlots[firstSlots[2 * index + 1]]
            }
            // Kept, so that the reads above are not optimised away.
            prefetchedSlotBits = touched
        }
        for fields in batch { store(fields) }
    }

    // MARK: - Rows

    private func record(at index: Int) -> ForwardRecord {
        let row = rows[index]
        let fingerprint = row.flagsAndVolume & Flag.hasFingerprint == 0 ? nil : FileFingerprint(
            byteCount: row.byteCount, modificationTime: FileTime(nanosecondsSince1970: row.modificationTime),
            identity: row.flagsAndVolume & Flag.hasIdentity == 0 ? nil
                : FileIdentity(volume: volumes[Int(row.flagsAndVolume & Flag.volumeMask)], file: row.identityFile))
        return ForwardRecord(digest: row.digest, fileName: name(of: index), byteCount: row.byteCount,
                             hadReport: row.flagsAndVolume & Flag.hadReport != 0,
                             forwardedAt: FileTime(nanosecondsSince1970: row.forwardedAt), fingerprint: fingerprint)
    }

    private mutating func row(for fields: ForwardRecordFields, nameOffset: UInt32) -> Row {
        var flags: UInt32 = fields.hadReport ? Flag.hadReport : 0
        var identityFile: UInt64 = 0
        if fields.modificationTime != nil {
            flags |= Flag.hasFingerprint
            if let identity = fields.identity {
                flags |= Flag.hasIdentity | volumeIndex(identity.volume)
                identityFile = identity.file
            }
        }
        return Row(digest: fields.digest, byteCount: fields.byteCount, forwardedAt: fields.forwardedAt.nanosecondsSince1970,
                   modificationTime: fields.modificationTime?.nanosecondsSince1970 ?? 0,
                   identityFile: identityFile, nameOffset: nameOffset, flagsAndVolume: flags)
    }

    private mutating func volumeIndex(_ volume: UInt64) -> UInt32 {
        if let index = volumes.lastIndex(of: volume) { return UInt32(index) }
        precondition(volumes.count < Int(Flag.volumeMask), "more distinct volumes than a state can index")
        volumes.append(volume)
        return UInt32(volumes.count - 1)
    }

    // MARK: - Names

    private mutating func appendName(_ utf8: UnsafeBufferPointer<UInt8>) -> UInt32 {
        precondition(!utf8.contains(Self.nameEnd), "a stored file name cannot contain a newline")
        precondition(nameBytes.count + utf8.count < Int(UInt32.max), "the state's names exceed 4 GiB")
        let offset = UInt32(nameBytes.count)
        nameBytes.append(contentsOf: utf8)
        nameBytes.append(Self.nameEnd)
        return offset
    }

    func nameRange(of row: Int) -> Range<Int> {
        let start = Int(rows[row].nameOffset)
        var end = start
        while nameBytes[end] != Self.nameEnd { end += 1 }
        return start..<end
    }

    private func name(of row: Int) -> String {
        nameBytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[nameRange(of: row)]), as: UTF8.self) }
    }

    private func nameMatches(row: Int, _ utf8: UnsafeBufferPointer<UInt8>) -> Bool {
        let start = Int(rows[row].nameOffset)
        guard start + utf8.count < nameBytes.count, nameBytes[start + utf8.count] == Self.nameEnd else { return false }
        return nameBytes.withUnsafeBufferPointer { stored in
            UnsafeBufferPointer(rebasing: stored[start..<(start + utf8.count)]).elementsEqual(utf8)
        }
    }

    /// FNV-1a over the name's bytes: stable across runs, unlike `Hasher`.
    static func nameHash(_ utf8: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash ^ (hash >> 29)
    }

    // MARK: - Indexes

    /// At most three quarters of the slots are used, so a probe stays short.
    static func maximumLoad(_ slotCount: Int) -> Int { slotCount / 4 * 3 }

    /// Just enough slots for `recordCount` records at the maximum load: any count, not a power
    /// of two, because a key's hash is mapped onto the slots by a multiply (`firstSlot`). At a
    /// million records the two indexes take 10.7 bytes a record instead of the 16.8 of the
    /// next power of two.
    static func slotCount(for recordCount: Int) -> Int {
        var slots = max(16, (recordCount * 4 + 2) / 3)
        while maximumLoad(slots) < recordCount { slots += 4 }
        return slots
    }

    /// The slot a probe for `hash` starts at: the high half of `hash × slotCount`, uniform
    /// over any slot count when the hash's high bits are (Lemire's multiply-shift reduction).
    static func firstSlot(_ hash: UInt64, slotCount: Int) -> Int {
        Int(truncatingIfNeeded: hash.multipliedFullWidth(by: UInt64(slotCount)).high)
    }

    static func slotValue(row: Int, tag: UInt32) -> UInt32 { tag << rowBits | UInt32(row + 1) }

    static func row(inSlot value: UInt32) -> Int { Int(value & rowMask) - 1 }

    static func digestTag(_ digest: EventDigest) -> UInt32 { UInt32(truncatingIfNeeded: digest.words.1) & 63 }

    /// The low six bits: the slot is chosen by the high ones.
    static func nameTag(_ hash: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: hash) & 63 }

    /// The slot holding `digest`'s row and that row, or the free slot where it would go and nil.
    private func digestSlot(of digest: EventDigest) -> (slot: Int, row: Int?) {
        let slotCount = digestSlots.count
        let tag = Self.digestTag(digest)
        var slot = Self.firstSlot(digest.words.0, slotCount: slotCount)
        while true {
            let value = digestSlots[slot]
            if value == Self.emptySlot { return (slot, nil) }
            if value >> Self.rowBits == tag, rows[Self.row(inSlot: value)].digest == digest { return (slot, Self.row(inSlot: value)) }
            slot += 1
            if slot == slotCount { slot = 0 }
        }
    }

    private func digestRow(of digest: EventDigest) -> Int? {
        guard !digestSlots.isEmpty else { return nil }
        return digestSlot(of: digest).row
    }

    private func nameRow(of utf8: UnsafeBufferPointer<UInt8>) -> Int? {
        guard !nameSlots.isEmpty else { return nil }
        let slotCount = nameSlots.count
        let hash = Self.nameHash(utf8)
        let tag = Self.nameTag(hash)
        var slot = Self.firstSlot(hash, slotCount: slotCount)
        while true {
            let value = nameSlots[slot]
            if value == Self.emptySlot { return nil }
            if value >> Self.rowBits == tag, nameMatches(row: Self.row(inSlot: value), utf8) { return Self.row(inSlot: value) }
            slot += 1
            if slot == slotCount { slot = 0 }
        }
    }

    private mutating func insertDigest(row: Int) {
        let slotCount = digestSlots.count
        let digest = rows[row].digest
        var slot = Self.firstSlot(digest.words.0, slotCount: slotCount)
        while digestSlots[slot] != Self.emptySlot {
            slot += 1
            if slot == slotCount { slot = 0 }
        }
        digestSlots[slot] = Self.slotValue(row: row, tag: Self.digestTag(digest))
    }

    /// Points the slot of `row`'s name at it, replacing the row stored before under the same name.
    mutating func insertName(row: Int, hash: UInt64) {
        let slotCount = nameSlots.count
        let tag = Self.nameTag(hash)
        var slot = Self.firstSlot(hash, slotCount: slotCount)
        while nameSlots[slot] != Self.emptySlot,
              !(nameSlots[slot] >> Self.rowBits == tag && sameName(Self.row(inSlot: nameSlots[slot]), row)) {
            slot += 1
            if slot == slotCount { slot = 0 }
        }
        nameSlots[slot] = Self.slotValue(row: row, tag: tag)
    }

    private func sameName(_ first: Int, _ second: Int) -> Bool {
        guard first != second else { return true }
        var left = Int(rows[first].nameOffset)
        var right = Int(rows[second].nameOffset)
        while nameBytes[left] == nameBytes[right] {
            if nameBytes[left] == Self.nameEnd { return true }
            left += 1
            right += 1
        }
        return false
    }

    func nameHash(ofRow row: Int) -> UInt64 {
        nameBytes.withUnsafeBufferPointer { Self.nameHash(UnsafeBufferPointer(rebasing: $0[nameRange(of: row)])) }
    }

    /// Rebuilds both indexes with `slotCount` slots each.
    ///
    /// Rows are inserted in order, so of two rows under one name the later one is kept.
    private mutating func rebuildIndexes(slotCount: Int) {
        digestSlots = []
        nameSlots = []
        digestSlots = [UInt32](repeating: Self.emptySlot, count: slotCount)
        nameSlots = [UInt32](repeating: Self.emptySlot, count: slotCount)
        for row in rows.indices {
            insertDigest(row: row)
            insertName(row: row, hash: nameHash(ofRow: row))
        }
    }
}
