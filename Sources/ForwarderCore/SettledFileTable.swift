/// The settle memory's settled files: a 64-bit hash of each one's name and fingerprint, in one
/// open-addressing table sized to the listing.
///
/// A `Set<Int>` of 208,000 hashes takes 2¹⁹ slots (4 MiB, its load factor is at most ¾ and its
/// size a power of two), and the settle memory built a second one at every listing to forget
/// vanished files: 8 MiB at the peak of a steady pass. This table has `listing × 5/4` slots
/// (2 MB) and forgets in place: a listing marks the keys it meets, and `removeUnmarked()` then
/// drops the others with no second table.
struct SettledFileTable {
    /// Zero is an empty slot. A key has bit 1 set, so it is never zero, and bit 0 is the mark.
    private var slots: [UInt64] = []
    /// How many keys the table holds.
    private(set) var count = 0
    /// How many keys were marked since the last `removeUnmarked()`.
    private var markedCount = 0

    private static let mark: UInt64 = 1

    /// The key of a hash: bit 1 set, bit 0 (the mark) clear; the high bits pick the slot.
    static func key(ofHash hash: Int) -> UInt64 { (UInt64(bitPattern: Int64(hash)) | 2) & ~mark }

    var isEmpty: Bool { count == 0 }

    /// Makes room for `keyCount` keys at most four in five slots full, so that a listing of that
    /// many files does not grow the table midway. A table that must grow later (files replaced
    /// by others: the old keys stay until `removeUnmarked()`) is given room for half as many
    /// again, so that a folder gaining files does not rebuild it at every pass.
    mutating func reserve(keyCount: Int) {
        let needed = Self.slotCount(forKeys: keyCount)
        guard needed > slots.count else { return }
        let old = slots
        slots = Array(repeating: 0, count: old.isEmpty ? needed : Self.slotCount(forKeys: keyCount + keyCount / 2))
        for slot in old where slot != 0 { place(slot) }
    }

    private static func slotCount(forKeys keyCount: Int) -> Int { max(8, keyCount + keyCount / 4 + 1) }

    /// Whether `key` is in the table.
    func contains(_ key: UInt64) -> Bool {
        guard !slots.isEmpty else { return false }
        var index = home(of: key)
        while slots[index] != 0 {
            if slots[index] & ~Self.mark == key { return true }
            index = index + 1 == slots.count ? 0 : index + 1
        }
        return false
    }

    /// Marks `key` as met in this listing; false when the table does not hold it.
    mutating func mark(_ key: UInt64) -> Bool {
        guard !slots.isEmpty else { return false }
        var index = home(of: key)
        while slots[index] != 0 {
            if slots[index] & ~Self.mark == key {
                if slots[index] & Self.mark == 0 {
                    slots[index] |= Self.mark
                    markedCount += 1
                }
                return true
            }
            index = index + 1 == slots.count ? 0 : index + 1
        }
        return false
    }

    /// Adds `key`, marked; the caller knows it is not held yet.
    mutating func insertMarked(_ key: UInt64) {
        reserve(keyCount: count + 1)
        place(key | Self.mark)
        count += 1
        markedCount += 1
    }

    /// Drops every key not marked since the last call, and clears the marks.
    ///
    /// With linear probing a key cannot simply be blanked out: a key after it in the same run
    /// of full slots would no longer be found. So the sweep starts after an empty slot, where
    /// no run crosses, and takes every marked key out and places it again; it lands in a slot
    /// already swept or its own, because every slot between its home and it was full.
    mutating func removeUnmarked() {
        defer { markedCount = 0 }
        guard markedCount < count else {
            for index in slots.indices { slots[index] &= ~Self.mark }
            return
        }
        guard let start = slots.firstIndex(of: 0) else { return }
        var index = start
        repeat {
            index = index + 1 == slots.count ? 0 : index + 1
            let slot = slots[index]
            guard slot != 0 else { continue }
            slots[index] = 0
            if slot & Self.mark != 0 { place(slot & ~Self.mark) } else { count -= 1 }
        } while index != start
    }

    /// Puts `slot` (a key, marked or not) in the first empty slot from its home.
    private mutating func place(_ slot: UInt64) {
        var index = home(of: slot)
        while slots[index] != 0 { index = index + 1 == slots.count ? 0 : index + 1 }
        slots[index] = slot
    }

    /// The slot a key starts its search at: its high bits scaled to the table, no division.
    private func home(of key: UInt64) -> Int {
        Int(key.multipliedFullWidth(by: UInt64(slots.count)).high)
    }
}
