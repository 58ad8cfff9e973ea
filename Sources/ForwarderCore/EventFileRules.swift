/// Which names in an ACH folder are event binaries and which are their ASCII reports.
///
/// The shape is the reference forwarder's 8.3 pattern (letter, three digits, four
/// alphanumerics, dot, three or four alphanumerics), any case, because the server decides what
/// it can decode and old firmware uses extensions nobody has documented. Extensions of files
/// that Blastware and its helpers write beside events are excluded even when the shape matches.
public enum EventFileRules {
    /// Extensions (upper case, without the dot) that are never event binaries.
    public static let excludedExtensions: Set<String> = [
        // The reference forwarder's list.
        "MLG", "TXT", "LOG", "INI", "DAT", "BAK", "TMP", "PKL", "H5", "JSON",
        // Documents that BW Mail and the Forwarding Agent write beside events (domain.md §5).
        "PDF", "XML", "WMF", "EMF", "CSV", "HTM", "HTML", "RTF", "DOC", "DOCX", "XLS", "XLSX",
        "BMP", "JPG", "JPEG", "PNG", "GIF", "TIF", "TIFF", "ZIP", "GZ", "7Z", "RAR",
        // Windows and tooling droppings.
        "DB", "EXE", "DLL", "LNK", "CFG", "OLD", "ORIG", "PART", "SWP", "CRDOWNLOAD",
    ]

    /// True when `name` has the event-binary shape and an extension that is not excluded.
    ///
    /// Allocates nothing: a pass asks this of every listed name.
    public static func isEventBinary(_ name: some StringProtocol) -> Bool { isEventBinary(utf8: name.utf8) }

    /// `isEventBinary` of a name given as its UTF-8 bytes, as a listing keeps it.
    public static func isEventBinary(utf8 bytes: some Collection<UInt8>) -> Bool {
        guard bytes.count == 12 || bytes.count == 13 else { return false }
        var index = 0
        var packedExtension: UInt32 = 0
        for byte in bytes {
            switch index {
            case 0: guard isLetter(byte) else { return false }
            case 1...3: guard isDigit(byte) else { return false }
            case 4...7: guard isAlphanumeric(byte) else { return false }
            case 8: guard byte == UInt8(ascii: ".") else { return false }
            default:
                guard isAlphanumeric(byte) else { return false }
                packedExtension = packedExtension << 8 | UInt32(isLetter(byte) ? byte & 0xDF : byte)
            }
            index += 1
        }
        return !excludedShapedExtensions.contains(packedExtension)
    }

    /// The excluded extensions an event-binary shape can have (three or four characters), each
    /// packed into a word as `isEventBinary` packs a name's.
    private static let excludedShapedExtensions: Set<UInt32> = Set(excludedExtensions.lazy
        .filter { (3...4).contains($0.utf8.count) }
        .map { $0.utf8.reduce(UInt32(0)) { $0 << 8 | UInt32($1) } })

    /// The report names a binary may have, in order of preference.
    ///
    /// Auto Call Home writes `<stem>_<ext>_ASCII.TXT` (e.g. `N844L20G_630H_ASCII.TXT`); manual
    /// exports write `<binary>.TXT`. The ACH name wins when both exist (domain.md §1).
    public static func reportNames(forBinary binaryName: String) -> [String] {
        guard let dot = binaryName.lastIndex(of: ".") else { return [binaryName + ".TXT"] }
        let stem = binaryName[..<dot]
        let fileExtension = binaryName[binaryName.index(after: dot)...]
        return ["\(stem)_\(fileExtension)_ASCII.TXT", binaryName + ".TXT"]
    }

    /// A key under which names compare without regard to ASCII case.
    ///
    /// Windows folders are case-insensitive and some tools lower-case names, so pairing must
    /// not depend on case; only ASCII letters are folded, which is all an 8.3 name can hold.
    public static func caseFoldedKey(_ name: some StringProtocol) -> String {
        var bytes = Array(name.utf8)
        for index in bytes.indices where (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(bytes[index]) {
            bytes[index] -= 32
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// True when `name` is a report of either naming (`…_ASCII.TXT` or `….TXT`), any case.
    ///
    /// Only ASCII names count: report names derive from 8.3 binary names, and Swift compares
    /// strings by canonical equivalence, so a name starting with the Kelvin sign (U+212A) would
    /// otherwise pair with the binary whose name starts with `K` and be sent as its report.
    public static func isReportName(_ name: some StringProtocol) -> Bool { isReportName(utf8: name.utf8) }

    /// `isReportName` of a name given as its UTF-8 bytes, as a listing keeps it.
    public static func isReportName(utf8 bytes: some Collection<UInt8>) -> Bool {
        guard bytes.count >= 4, bytes.allSatisfy({ $0 < 0x80 }) else { return false }
        return zip(bytes.suffix(4), ".TXT".utf8).allSatisfy { byte, expected in
            (isLetter(byte) ? byte & 0xDF : byte) == expected
        }
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool { isLetter(byte) || isDigit(byte) }
}
