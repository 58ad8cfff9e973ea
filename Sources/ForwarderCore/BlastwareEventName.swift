/// A decoded Series III event file name such as `T190LD5Q.LK0W`.
///
/// Blastware packs the unit serial and the event time into an 8.3 name (domain.md §2):
/// a prefix letter and three digits give the serial, four base-36 digits give the event time
/// in 1296-second steps since 1985-01-01 (unit local time), the first two extension characters
/// give the remainder, the third is a literal `0`, and an optional fourth says waveform (`W`)
/// or histogram (`H`). Manual downloads have the three-character form.
public struct BlastwareEventName: Hashable, Sendable, CustomStringConvertible {
    /// What kind of recording the name says the file holds.
    public enum Kind: Hashable, Sendable {
        /// Full waveform event from an Auto Call Home download (`…W`).
        case waveform
        /// Full histogram event from an Auto Call Home download (`…H`).
        case histogram
        /// A manual download: three-character extension, kind not encoded.
        case manual
        /// A four-character extension whose last character is neither `W` nor `H`.
        case unrecognised(Character)
    }

    /// Seconds in one step of the four-character stem.
    public static let secondsPerStemStep = 1296
    /// The largest event time the four-character stem can hold (it overflows in 2053).
    public static let maximumSecondsSince1985 = 36 * 36 * 36 * 36 * secondsPerStemStep - 1

    /// The unit's numeric serial, e.g. `18190` for BE18190.
    public let serialNumber: Int
    /// Event time in unit-local seconds since 1985-01-01T00:00:00 (no time zone).
    public let secondsSince1985: Int
    public let kind: Kind
    /// The third extension character; Blastware always writes `0`, but other values are kept
    /// so that a decoded name re-encodes to exactly what was on disk.
    public let extensionFlag: Character

    /// The unit serial as Blastware prints it, e.g. `BE18190`.
    public var unitSerial: String { "BE\(serialNumber)" }

    /// The event time split into calendar fields (unit local time).
    public var localTime: CivilDateTime { CivilDateTime(secondsSince1985: secondsSince1985) }

    /// Builds the name for an event; returns nil when the serial or time cannot be encoded.
    public init?(serialNumber: Int, secondsSince1985: Int, kind: Kind) {
        guard (0...24_999).contains(serialNumber),
              (0...Self.maximumSecondsSince1985).contains(secondsSince1985) else { return nil }
        if case .unrecognised = kind { return nil }
        self.serialNumber = serialNumber
        self.secondsSince1985 = secondsSince1985
        self.kind = kind
        self.extensionFlag = "0"
    }

    /// Decodes a name, ignoring case; returns nil when it does not have the Series III shape.
    public init?(parsing name: some StringProtocol) {
        let bytes = Array(name.utf8)
        guard bytes.count == 12 || bytes.count == 13, bytes[8] == UInt8(ascii: ".") else { return nil }
        guard let prefix = Self.letterValue(bytes[0]) else { return nil }
        var tail = 0
        for byte in bytes[1...3] {
            guard let digit = Self.decimalValue(byte) else { return nil }
            tail = tail * 10 + digit
        }
        var stem = 0
        for byte in bytes[4...7] {
            guard let digit = Self.base36Value(byte) else { return nil }
            stem = stem * 36 + digit
        }
        guard let high = Self.base36Value(bytes[9]), let low = Self.base36Value(bytes[10]),
              Self.base36Value(bytes[11]) != nil else { return nil }
        let kind: Kind
        if bytes.count == 13 {
            guard Self.base36Value(bytes[12]) != nil else { return nil }
            switch Self.uppercased(bytes[12]) {
            case UInt8(ascii: "W"): kind = .waveform
            case UInt8(ascii: "H"): kind = .histogram
            case let other: kind = .unrecognised(Character(Unicode.Scalar(other)))
            }
        } else {
            kind = .manual
        }
        // Prefix letter `B` is serial 0–999; `A` would be negative and is not a Blastware name.
        guard prefix >= 1 else { return nil }
        self.serialNumber = (prefix - 1) * 1000 + tail
        self.secondsSince1985 = stem * Self.secondsPerStemStep + high * 36 + low
        self.kind = kind
        self.extensionFlag = Character(Unicode.Scalar(Self.uppercased(bytes[11])))
    }

    /// The name's stem: prefix letter, serial tail and base-36 time stem (`T190LD5Q`).
    public var stem: String {
        let prefix = Character(Unicode.Scalar(UInt8(ascii: "B") + UInt8(serialNumber / 1000)))
        let tail = String(serialNumber % 1000)
        let paddedTail = String(repeating: "0", count: 3 - tail.count) + tail
        return String(prefix) + paddedTail + Self.base36(secondsSince1985 / Self.secondsPerStemStep, width: 4)
    }

    /// The extension without its dot (`LK0W`).
    public var fileExtension: String {
        let remainder = Self.base36(secondsSince1985 % Self.secondsPerStemStep, width: 2)
        switch kind {
        case .waveform: return remainder + String(extensionFlag) + "W"
        case .histogram: return remainder + String(extensionFlag) + "H"
        case .manual: return remainder + String(extensionFlag)
        case .unrecognised(let character): return remainder + String(extensionFlag) + String(character)
        }
    }

    /// The canonical upper-case file name.
    public var fileName: String { stem + "." + fileExtension }

    public var description: String { fileName }

    private static func base36(_ value: Int, width: Int) -> String {
        let digits = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        var remaining = value
        var characters = [Character](repeating: "0", count: width)
        for index in stride(from: width - 1, through: 0, by: -1) {
            characters[index] = digits[remaining % 36]
            remaining /= 36
        }
        return String(characters)
    }

    private static func uppercased(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) ? byte - 32 : byte
    }

    private static func letterValue(_ byte: UInt8) -> Int? {
        let upper = uppercased(byte)
        guard (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(upper) else { return nil }
        return Int(upper - UInt8(ascii: "A"))
    }

    private static func decimalValue(_ byte: UInt8) -> Int? {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) ? Int(byte - UInt8(ascii: "0")) : nil
    }

    private static func base36Value(_ byte: UInt8) -> Int? {
        if let digit = decimalValue(byte) { return digit }
        guard let letter = letterValue(byte) else { return nil }
        return letter + 10
    }
}

/// A calendar date and time without a time zone, as Blastware units keep it.
///
/// Units store naive local time, so converting through `Date` and a `TimeZone` would invent an
/// offset that is not there; this type does the proleptic Gregorian arithmetic directly.
public struct CivilDateTime: Hashable, Sendable, Comparable, CustomStringConvertible {
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
        let days = secondsSince1985.floorDivided(by: 86_400)
        let secondOfDay = secondsSince1985 - days * 86_400
        let (year, month, day) = Self.civilDate(daysSinceEpoch: days + Self.daysFrom1970To1985)
        self.init(year: year, month: month, day: day,
                  hour: secondOfDay / 3600, minute: secondOfDay % 3600 / 60, second: secondOfDay % 60)
    }

    /// Unit-local seconds since 1985-01-01T00:00:00.
    public var secondsSince1985: Int {
        (Self.daysSinceEpoch(year: year, month: month, day: day) - Self.daysFrom1970To1985) * 86_400
            + hour * 3600 + minute * 60 + second
    }

    /// ISO 8601 form without a zone, e.g. `2025-12-09T11:00:56`.
    public var description: String {
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(year)-\(two(month))-\(two(day))T\(two(hour)):\(two(minute)):\(two(second))"
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.secondsSince1985 < rhs.secondsSince1985 }

    static let daysFrom1970To1985 = 5479

    /// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = shiftedYear.floorDivided(by: 400)
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The proleptic Gregorian date of a day count since 1970-01-01.
    static func civilDate(daysSinceEpoch: Int) -> (year: Int, month: Int, day: Int) {
        let shifted = daysSinceEpoch + 719_468
        let era = shifted.floorDivided(by: 146_097)
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }
}

extension Int {
    /// Division that rounds toward negative infinity, for calendar arithmetic.
    func floorDivided(by divisor: Int) -> Int {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
