/// An event binary's name, `<stem>.<ext>`, folded to upper case and packed into one word: a
/// key that needs no heap, for the planner keys every report of a listing by the binary it
/// could pair with.
///
/// Only names of the event-binary shape have a key (a letter, three digits, four letters or
/// digits, then an extension of three or four): the planner looks reports up by event binaries
/// only, so a report whose name no binary could have would never be found anyway. Each
/// character is read as a digit of its own range (26 letters, 10 digits, 36 letters or digits,
/// ASCII case folded as `EventFileRules.caseFoldedKey` does), which needs 57 bits in all.
struct FoldedBinaryName: Hashable, Comparable {
    private(set) var packed: UInt64

    /// The key of the stem and extension, nil when they do not have the event-binary shape.
    init?(stem: UnsafeBufferPointer<UInt8>.SubSequence, extension fileExtension: UnsafeBufferPointer<UInt8>.SubSequence) {
        guard stem.count == 8, (3...4).contains(fileExtension.count) else { return nil }
        var packed: UInt64 = 0
        for (offset, byte) in stem.enumerated() {
            let digit: UInt64?
            switch offset {
            case 0: digit = Self.letterValue(byte).map { $0 - 10 }
            case 1...3: digit = Self.alphanumericValue(byte).flatMap { $0 < 10 ? $0 : nil }
            default: digit = Self.alphanumericValue(byte)
            }
            guard let digit else { return nil }
            packed = packed * (offset == 0 ? 26 : offset <= 3 ? 10 : 36) + digit
        }
        var extensionDigits: UInt64 = 0
        for byte in fileExtension {
            guard let digit = Self.alphanumericValue(byte) else { return nil }
            extensionDigits = extensionDigits * 36 + digit
        }
        // Three-character extensions first, then four: 36³ + 36⁴ codes.
        let extensionCode = fileExtension.count == 4 ? 46_656 + extensionDigits : extensionDigits
        self.packed = packed * (46_656 + 1_679_616) + extensionCode
    }

    /// The key of `name` when its ninth byte is `separator`, as in every event binary's name.
    init?(_ name: UnsafeBufferPointer<UInt8>.SubSequence, separator: UInt8 = UInt8(ascii: ".")) {
        guard name.count > 8, name[name.startIndex + 8] == separator else { return nil }
        self.init(stem: name.prefix(8), extension: name.dropFirst(9))
    }

    static func < (lhs: Self, rhs: Self) -> Bool { lhs.packed < rhs.packed }

    /// 10-35 for an ASCII letter of either case, nil otherwise.
    private static func letterValue(_ byte: UInt8) -> UInt64? {
        let upper = byte & 0xDF
        return (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(upper) ? UInt64(upper - UInt8(ascii: "A")) + 10 : nil
    }

    /// 0-9 for a digit, 10-35 for an ASCII letter of either case, nil otherwise.
    private static func alphanumericValue(_ byte: UInt8) -> UInt64? {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) ? UInt64(byte - UInt8(ascii: "0")) : letterValue(byte)
    }
}

/// The reports of one listing, by the binary each one's name pairs with: positions in the
/// listing rather than copies of names, in a sorted array of 16-byte slots reserved to the
/// count of reports, rather than a hash table (a third of its memory at 100,000 reports).
///
/// `EventFileRules.reportNames(forBinary:)` gives a binary `<stem>.<ext>` two report names,
/// `<stem>_<ext>_ASCII.TXT` (Auto Call Home) and `<stem>.<ext>.TXT` (manual export); this index
/// runs that mapping backwards, so a report is found by its binary's name in either case
/// without building the report names of every binary. A report whose name no event binary
/// could have is counted by the planner but not kept here.
struct ReportIndex {
    /// A report's binary key and naming in one word (the naming in the lowest bit, Auto Call
    /// Home first), and its listing position.
    private struct Slot {
        var keyAndNaming: UInt64
        var position: Int32
    }

    private static let autoCallHome: UInt64 = 0
    private static let manualExport: UInt64 = 1

    /// Sorted by key, naming and position once `seal()` ran.
    private var slots: [Slot] = []

    private static let autoCallHomeSuffix = Array("_ASCII.TXT".utf8)
    private static let manualExportSuffixLength = ".TXT".utf8.count

    /// An index with room for `reportCount` reports: no report name has a key under both namings.
    init(reportCount: Int) {
        slots.reserveCapacity(reportCount)
    }

    /// Keeps the report named `reportName` (an ASCII name ending in `.TXT`, any case) found at
    /// `position`; of reports whose names differ only by case, the one at the later position wins.
    mutating func insert(reportName bytes: UnsafeBufferPointer<UInt8>, at position: Int32) {
        let exportBinaryLength = bytes.count - Self.manualExportSuffixLength
        if let key = FoldedBinaryName(bytes[..<max(0, exportBinaryLength)]) {
            slots.append(Slot(keyAndNaming: key.packed << 1 | Self.manualExport, position: position))
            return
        }
        let stemAndExtensionLength = bytes.count - Self.autoCallHomeSuffix.count
        guard stemAndExtensionLength > 0,
              zip(bytes[stemAndExtensionLength...], Self.autoCallHomeSuffix).allSatisfy({ byte, expected in
                  ((UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) ? byte - 32 : byte) == expected
              }),
              let key = FoldedBinaryName(bytes[..<stemAndExtensionLength], separator: UInt8(ascii: "_")) else { return }
        slots.append(Slot(keyAndNaming: key.packed << 1 | Self.autoCallHome, position: position))
    }

    /// Sorts the slots for lookup; call once, after the last `insert`.
    mutating func seal() {
        slots.sort { ($0.keyAndNaming, $0.position) < ($1.keyAndNaming, $1.position) }
    }

    /// The listing position of `binaryName`'s report: the Auto Call Home name when present,
    /// else the manual export's, compared without regard to ASCII case.
    func reportPosition(forBinary binaryName: String) -> Int? {
        var binaryName = binaryName
        guard let key = binaryName.withUTF8({ FoldedBinaryName($0[...]) }) else { return nil }
        // The first slot not before (key, manual export): the slot before it is the last
        // Auto Call Home report of this binary, if it has one.
        let manualExportKey = key.packed << 1 | Self.manualExport
        var low = 0
        var high = slots.count
        while low < high {
            let middle = (low + high) / 2
            if slots[middle].keyAndNaming < manualExportKey { low = middle + 1 } else { high = middle }
        }
        if low > 0, slots[low - 1].keyAndNaming >> 1 == key.packed { return Int(slots[low - 1].position) }
        // Past the manual exports of this binary: the last of them.
        var end = low
        while end < slots.count, slots[end].keyAndNaming == manualExportKey { end += 1 }
        return end > low ? Int(slots[end - 1].position) : nil
    }
}
