/// The simulator's own knowledge of ASCII report names and of which file pairs with which.
///
/// Written from domain.md §1, §3 and §5, not from the forwarder's `EventFileRules`: Auto Call
/// Home writes `<stem>_<ext>_ASCII.TXT`, an operator's manual export is `<binary>.TXT`, the ACH
/// name wins when both exist, and names match without regard to ASCII letter case (Windows
/// folders are case-insensitive and some tools lower-case names).
public enum SimReportNames {
    /// `N844L20G.630H` → `N844L20G_630H_ASCII.TXT`; nil for a name without an extension.
    public static func achReport(forBinary binaryName: String) -> String? {
        let pieces = binaryName.split(separator: ".", omittingEmptySubsequences: false)
        guard pieces.count == 2 else { return nil }
        return "\(pieces[0])_\(pieces[1])_ASCII.TXT"
    }

    /// `N844L20G.630H` → `N844L20G.630H.TXT`.
    public static func manualExport(forBinary binaryName: String) -> String { binaryName + ".TXT" }

    /// The report names that pair with a binary, the preferred (ACH) first.
    public static func candidates(forBinary binaryName: String) -> [String] {
        (achReport(forBinary: binaryName).map { [$0] } ?? []) + [manualExport(forBinary: binaryName)]
    }

    /// The binary a report names: `N844L20G_630H_ASCII.TXT` and `N844L20G.630H.TXT` both give
    /// `N844L20G.630H` (case as written); nil for a name that is no report.
    ///
    /// Non-ASCII names are no reports: Swift compares strings by canonical equivalence, under
    /// which the Kelvin sign (U+212A) equals `K`, so such a name would otherwise find a binary.
    public static func binary(forReport reportName: String) -> String? {
        guard isReport(reportName) else { return nil }
        let upper = foldedCase(reportName)
        if upper.hasSuffix("_ASCII.TXT") {
            let base = Array(reportName.unicodeScalars.dropLast("_ASCII.TXT".count))
            guard let underscore = base.lastIndex(of: "_") else { return nil }
            return String(String.UnicodeScalarView(base[..<underscore])) + "."
                + String(String.UnicodeScalarView(base[(underscore + 1)...]))
        }
        guard upper.hasSuffix(".TXT") else { return nil }
        return String(String.UnicodeScalarView(reportName.unicodeScalars.dropLast(".TXT".count)))
    }

    /// True for an ASCII name ending in `.TXT` in any case: what the server takes for a report.
    public static func isReport(_ name: String) -> Bool {
        name.unicodeScalars.allSatisfy(\.isASCII) && foldedCase(name).hasSuffix(".TXT")
    }

    /// The name with ASCII letters upper-cased and everything else left alone, for comparing
    /// names the way a Windows folder does.
    ///
    /// Folded byte by byte in UTF-8, where a byte below 0x80 is always a whole ASCII scalar: the
    /// mock folds every uploaded name several times.
    public static func foldedCase(_ name: String) -> String {
        String(unsafeUninitializedCapacity: name.utf8.count) { folded in
            for (index, byte) in name.utf8.enumerated() {
                folded[index] = (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) ? byte - 32 : byte
            }
            return name.utf8.count
        }
    }

    /// Extensions of files that live beside events and are never events, although their 8.3
    /// names can look like one (domain.md §5: monitor logs, reports, BW Mail documents, logs).
    public static let knownNonEventExtensions: Set<String> = [
        "MLG", "TXT", "PDF", "XML", "WMF", "LOG", "INI", "DAT", "BAK", "TMP", "DB",
    ]

    /// True when a name has the event shape the SFM accepts (domain.md §2: a letter, three
    /// digits, four letters or digits, a dot, three or four letters or digits, any case) and an
    /// extension that is not a known non-event one.
    public static func looksLikeEventBinary(_ name: String) -> Bool {
        // By UTF-8 bytes: every character the shape allows is ASCII, so a name with any other
        // byte fails either way, and the mock asks this of every uploaded name.
        var name = name
        return name.withUTF8 { bytes in
            guard bytes.count == 12 || bytes.count == 13, bytes[8] == UInt8(ascii: ".") else { return false }
            func folded(_ byte: UInt8) -> UInt8 { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) ? byte - 32 : byte }
            func isLetter(_ byte: UInt8) -> Bool { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(folded(byte)) }
            func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }
            guard isLetter(bytes[0]), bytes[1...3].allSatisfy(isDigit),
                  bytes[4...7].allSatisfy({ isLetter($0) || isDigit($0) }),
                  bytes[9...].allSatisfy({ isLetter($0) || isDigit($0) }) else { return false }
            return !knownNonEventExtensions.contains(String(decoding: bytes[9...].map(folded), as: UTF8.self))
        }
    }
}
