/// A Series III event file name as the simulator knows it, e.g. `T190LD5Q.LK0W`.
///
/// Written from domain.md §2 and nothing else, so that the generator, the mock and the checkers
/// do not share the forwarder's `BlastwareEventName`: a mistake in either codec then shows up as
/// a disagreement (and the golden tables pin both to hand-written names). The name is
/// `P SSS TTTT . AB0[K]`: prefix letter `B` + serial ÷ 1000, serial mod 1000 in three digits,
/// unit-local seconds since 1985 ÷ 1296 in four base-36 digits, the remainder in two, a `0`,
/// and `W` (waveform) or `H` (histogram) on Auto Call Home downloads only.
public struct SimEventName: Hashable, Sendable, CustomStringConvertible {
    /// What the last extension character says.
    public enum Kind: Hashable, Sendable {
        case waveform
        case histogram
        /// Three-character extension: a manual download.
        case manual
        /// A fourth character other than `W` or `H` (kept so the name re-encodes as it was).
        case other(Character)
    }

    /// Seconds in one step of the four-digit time stem (36 × 36 remainders).
    public static let stemStepSeconds = 36 * 36
    /// The last second four base-36 stem digits reach (in 2053).
    public static let lastEncodableSecond = 36 * 36 * 36 * 36 * stemStepSeconds - 1
    /// Serials the prefix letters `B` to `Z` cover.
    public static let encodableSerials = 0...24_999

    public let serialNumber: Int
    /// Unit-local seconds since 1985-01-01T00:00:00, no time zone.
    public let secondsSince1985: Int
    public let kind: Kind
    /// The third extension character: `0` in every name Blastware writes.
    public let thirdExtensionCharacter: Character

    /// The name of an event; nil when the serial or the time does not fit the 8.3 form.
    public init?(serialNumber: Int, secondsSince1985: Int, kind: Kind) {
        guard Self.encodableSerials.contains(serialNumber), (0...Self.lastEncodableSecond).contains(secondsSince1985)
        else { return nil }
        if case .other = kind { return nil }
        self.serialNumber = serialNumber
        self.secondsSince1985 = secondsSince1985
        self.kind = kind
        self.thirdExtensionCharacter = "0"
    }

    /// Reads a name in any letter case; nil unless it has the Series III 8.3 shape.
    public init?(parsing name: some StringProtocol) {
        // ASCII first: upper-casing `ß` gives `SS`, which would shift every position after it.
        guard name.unicodeScalars.allSatisfy(\.isASCII) else { return nil }
        let characters = Array(String(name).uppercased().unicodeScalars)
        guard characters.count == 12 || characters.count == 13, characters[8] == "." else { return nil }
        guard let prefix = Self.alphabet.firstIndex(of: characters[0]), prefix >= 11,
              let tail = Int(String(String.UnicodeScalarView(characters[1...3]))), characters[1...3].allSatisfy(Self.isDecimal),
              let timeStem = Self.base36(characters[4...7]), let remainder = Self.base36(characters[9...10]),
              Self.base36(characters[11...11]) != nil else { return nil }
        var kind = Kind.manual
        if characters.count == 13 {
            guard Self.base36(characters[12...12]) != nil else { return nil }
            switch characters[12] {
            case "W": kind = .waveform
            case "H": kind = .histogram
            default: kind = .other(Character(characters[12]))
            }
        }
        serialNumber = (prefix - 11) * 1000 + tail
        secondsSince1985 = timeStem * Self.stemStepSeconds + remainder
        self.kind = kind
        thirdExtensionCharacter = Character(characters[11])
    }

    /// `T190LD5Q`: prefix letter, serial tail, time stem.
    public var stem: String {
        let prefix = Self.alphabet[11 + serialNumber / 1000]
        let tail = String(serialNumber % 1000)
        return String(prefix) + String(repeating: "0", count: 3 - tail.count) + tail
            + Self.base36String(secondsSince1985 / Self.stemStepSeconds, digits: 4)
    }

    /// `LK0W`, without the dot.
    public var fileExtension: String {
        let remainder = Self.base36String(secondsSince1985 % Self.stemStepSeconds, digits: 2)
            + String(thirdExtensionCharacter)
        switch kind {
        case .waveform: return remainder + "W"
        case .histogram: return remainder + "H"
        case .manual: return remainder
        case .other(let last): return remainder + String(last)
        }
    }

    /// The upper-case file name Blastware writes.
    public var fileName: String { "\(stem).\(fileExtension)" }
    /// `BE18190`.
    public var unitSerial: String { "BE\(serialNumber)" }
    /// The event time as calendar fields, unit-local.
    public var localTime: SimCivilTime { SimCivilTime(secondsSince1985: secondsSince1985) }
    public var description: String { fileName }

    /// Base-36 digits in value order: `0`–`9` then `A`–`Z`; prefix letter `B` sits at index 11.
    private static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ".unicodeScalars)

    private static func isDecimal(_ character: Unicode.Scalar) -> Bool { ("0"..."9").contains(character) }

    private static func base36(_ characters: ArraySlice<Unicode.Scalar>) -> Int? {
        var value = 0
        for character in characters {
            guard let digit = alphabet.firstIndex(of: character) else { return nil }
            value = value * 36 + digit
        }
        return value
    }

    private static func base36String(_ value: Int, digits: Int) -> String {
        var text = ""
        var rest = value
        for _ in 0..<digits {
            text = String(alphabet[rest % 36]) + text
            rest /= 36
        }
        return text
    }
}

/// A unit-local calendar time (no time zone), as Blastware units keep their clocks.
///
/// The simulator's own Gregorian arithmetic, counted in whole years and months from 1985 rather
/// than through the forwarder's `CivilDateTime`, so that a calendar mistake in one is not
/// repeated in the other.
public struct SimCivilTime: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int
    public let hour: Int
    public let minute: Int
    public let second: Int

    public init(year: Int, month: Int, day: Int, hour: Int = 0, minute: Int = 0, second: Int = 0) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
    }

    /// Splits unit-local seconds since 1985-01-01T00:00:00 into calendar fields.
    public init(secondsSince1985: Int) {
        var dayNumber = secondsSince1985 / 86_400
        var secondOfDay = secondsSince1985 % 86_400
        if secondOfDay < 0 {
            secondOfDay += 86_400
            dayNumber -= 1
        }
        var year = 1985 + dayNumber / 366
        while Self.daysBefore(year: year + 1) <= dayNumber { year += 1 }
        while Self.daysBefore(year: year) > dayNumber { year -= 1 }
        var dayOfYear = dayNumber - Self.daysBefore(year: year)
        var month = 1
        while dayOfYear >= Self.daysIn(month: month, year: year) {
            dayOfYear -= Self.daysIn(month: month, year: year)
            month += 1
        }
        self.init(year: year, month: month, day: dayOfYear + 1,
                  hour: secondOfDay / 3600, minute: secondOfDay / 60 % 60, second: secondOfDay % 60)
    }

    /// Unit-local seconds since 1985-01-01T00:00:00.
    public var secondsSince1985: Int {
        var days = Self.daysBefore(year: year) + day - 1
        for earlierMonth in 1..<max(1, month) { days += Self.daysIn(month: earlierMonth, year: year) }
        return days * 86_400 + hour * 3600 + minute * 60 + second
    }

    /// `2025-12-09T11:00:56`.
    public var description: String {
        func padded(_ value: Int) -> String { value < 10 ? "0\(value)" : String(value) }
        return "\(year)-\(padded(month))-\(padded(day))T\(padded(hour)):\(padded(minute)):\(padded(second))"
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.secondsSince1985 < rhs.secondsSince1985 }

    static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days from 1985-01-01 to January 1st of `year` (negative before 1985).
    static func daysBefore(year: Int) -> Int {
        func leapYears(through last: Int) -> Int { last / 4 - last / 100 + last / 400 }
        return 365 * (year - 1985) + leapYears(through: year - 1) - leapYears(through: 1984)
    }
}
