/// An event binary's name, `<stem>.<ext>`, folded to upper case and packed into two words: a
/// key that needs no heap, for the planner keys every report of a listing by the binary it
/// could pair with.
struct FoldedBinaryName: Hashable, Comparable {
    private var stem: UInt64 = 0
    private var fileExtension: UInt64 = 0

    /// Packs an eight-byte stem and an extension of at most seven bytes (event binaries have
    /// three or four), folding ASCII `a`-`z` to upper case as `EventFileRules.caseFoldedKey`
    /// does; nil for other lengths.
    init?(stem stemBytes: some Collection<UInt8>, extension extensionBytes: some Collection<UInt8>) {
        guard stemBytes.count == 8, extensionBytes.count < 8 else { return nil }
        for (index, byte) in stemBytes.enumerated() {
            stem |= UInt64(Self.folded(byte)) << (8 * UInt64(index))
        }
        for (index, byte) in extensionBytes.enumerated() {
            fileExtension |= UInt64(Self.folded(byte)) << (8 * UInt64(index))
        }
        fileExtension |= UInt64(extensionBytes.count) << 56
    }

    /// The key of `name` when its ninth byte is `separator`, as in every event binary's name.
    init?(_ name: some Collection<UInt8>, separator: UInt8 = UInt8(ascii: ".")) {
        guard name.count > 8, name[name.index(name.startIndex, offsetBy: 8)] == separator else { return nil }
        self.init(stem: name.prefix(8), extension: name.dropFirst(9))
    }

    static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.stem, lhs.fileExtension) < (rhs.stem, rhs.fileExtension)
    }

    private static func folded(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) ? byte - 32 : byte
    }
}

/// The reports of one listing, by the binary each one's name pairs with: positions in the
/// listing rather than copies of names, in a sorted array of 24-byte slots rather than a hash
/// table (a third of its memory at 100,000 reports).
///
/// `EventFileRules.reportNames(forBinary:)` gives a binary `<stem>.<ext>` two report names,
/// `<stem>_<ext>_ASCII.TXT` (Auto Call Home) and `<stem>.<ext>.TXT` (manual export); this index
/// runs that mapping backwards, so a report is found by its binary's name in either case
/// without building the report names of every binary. A report whose name no event binary
/// could have is counted by the planner but not kept here.
struct ReportIndex {
    private enum Naming: UInt8, Comparable {
        case autoCallHome, manualExport

        static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    private struct Slot {
        var binary: FoldedBinaryName
        var position: Int32
        var naming: Naming
    }

    /// Sorted by binary, naming and position once `seal()` ran.
    private var slots: [Slot] = []

    private static let autoCallHomeSuffix = Array("_ASCII.TXT".utf8)
    private static let manualExportSuffixLength = ".TXT".utf8.count
    private static let binaryLengths = 12...13

    /// Keeps the report named `reportName` (an ASCII name ending in `.TXT`, any case) found at
    /// `position`; of reports whose names differ only by case, the one at the later position wins.
    mutating func insert(reportName bytes: UnsafeBufferPointer<UInt8>, at position: Int32) {
        let exportBinaryLength = bytes.count - Self.manualExportSuffixLength
        if Self.binaryLengths.contains(exportBinaryLength), let key = FoldedBinaryName(bytes[..<exportBinaryLength]) {
            slots.append(Slot(binary: key, position: position, naming: .manualExport))
        }
        let stemAndExtensionLength = bytes.count - Self.autoCallHomeSuffix.count
        guard Self.binaryLengths.contains(stemAndExtensionLength),
              zip(bytes[stemAndExtensionLength...], Self.autoCallHomeSuffix).allSatisfy({ byte, expected in
                  ((UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) ? byte - 32 : byte) == expected
              }),
              let key = FoldedBinaryName(bytes[..<stemAndExtensionLength], separator: UInt8(ascii: "_")) else { return }
        slots.append(Slot(binary: key, position: position, naming: .autoCallHome))
    }

    /// Sorts the slots for lookup; call once, after the last `insert`.
    mutating func seal() {
        slots.sort { ($0.binary, $0.naming, $0.position) < ($1.binary, $1.naming, $1.position) }
    }

    /// The listing position of `binaryName`'s report: the Auto Call Home name when present,
    /// else the manual export's, compared without regard to ASCII case.
    func reportPosition(forBinary binaryName: String) -> Int? {
        guard let key = FoldedBinaryName(binaryName.utf8) else { return nil }
        // The first slot not before (key, manual export): the slot before it is the last
        // Auto Call Home report of this binary, if it has one.
        var low = 0
        var high = slots.count
        while low < high {
            let middle = (low + high) / 2
            if (slots[middle].binary, slots[middle].naming) < (key, .manualExport) { low = middle + 1 } else { high = middle }
        }
        if low > 0, slots[low - 1].binary == key { return Int(slots[low - 1].position) }
        // Past the manual exports of this binary: the last of them.
        var end = low
        while end < slots.count, slots[end].binary == key { end += 1 }
        return end > low ? Int(slots[end - 1].position) : nil
    }
}
