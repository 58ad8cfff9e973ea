/// When the server asked to be left alone until, from a `Retry-After` header (RFC 9110 §10.2.3).
///
/// The core has no clock, so an HTTP-date stays a point in time here and becomes a wait only at
/// the edge, against the forwarder's clock (`wait(from:longest:)`).
public enum RetryAfter: Hashable, Sendable, CustomStringConvertible {
    /// `delta-seconds`: this long after the reply arrived.
    case delay(Duration)
    /// `HTTP-date`: this wall time (UTC).
    case at(FileTime)

    /// The `delta-seconds` form: `seconds` after the reply arrived.
    public static func seconds(_ seconds: Int64) -> RetryAfter { .delay(.seconds(seconds)) }

    /// Reads a header value in either form; nil for anything else, which RFC 9110 lets a
    /// recipient ignore.
    ///
    /// Parsed by hand, with no date formatter: a formatter depends on ICU and the locale, and
    /// this must decide the same on every platform and in every test.
    public static func parse(_ header: String) -> RetryAfter? {
        let value = Array(header.utf8).trimmingOptionalWhitespace()
        guard !value.isEmpty else { return nil }
        if value.allSatisfy(HTTPDate.isDigit) { return .delay(.seconds(HTTPDate.saturatingInteger(value))) }
        return HTTPDate.parse(value).map(RetryAfter.at)
    }

    /// How long to wait from `now`: never negative and never longer than `longest`.
    ///
    /// A date more than 50 years ahead is in the past: RFC 9110 reads an obsolete two-digit year
    /// (`Sunday, 06-Nov-94 …`, parsed as 2094) as the latest such year that is not more than 50
    /// years ahead, here 1994. For a four-digit year such a date is junk, and waiting nothing is
    /// as good an answer as waiting the cap.
    public func wait(from now: FileTime, longest: Duration) -> Duration {
        let wait: Duration
        switch self {
        case .delay(let delay):
            wait = delay
        case .at(let time):
            // A date centuries away from `now` (1694 against 2026) overflows the difference;
            // it is in the past or beyond the horizon, and either way means no wait.
            let (ahead, overflowed) = time.nanosecondsSince1970.subtractingReportingOverflow(now.nanosecondsSince1970)
            wait = overflowed || .nanoseconds(ahead) > Self.twoDigitYearHorizon ? .zero : .nanoseconds(ahead)
        }
        return max(.zero, min(wait, longest))
    }

    public var description: String {
        switch self {
        case .delay(let delay): return "\(delay.components.seconds) s"
        case .at(let time): return "\(time)"
        }
    }

    static let twoDigitYearHorizon: Duration = .seconds(50 * 365 * 86_400)
}

/// The three forms of RFC 9110's HTTP-date, parsed from bytes.
///
/// - IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`
/// - RFC 850 (obsolete): `Sunday, 06-Nov-94 08:49:37 GMT` (two-digit year read as 20yy)
/// - asctime (obsolete): `Sun Nov  6 08:49:37 1994`
enum HTTPDate {
    static let shortDayNames = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    static let longDayNames = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func parse(_ bytes: [UInt8]) -> FileTime? {
        let text = String(decoding: bytes, as: UTF8.self)
        if let comma = text.firstIndex(of: ",") {
            let dayName = String(text[..<comma])
            let rest = text[text.index(after: comma)...]
            guard rest.first == " " else { return nil }
            let fields = rest.dropFirst().split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            if shortDayNames.contains(dayName) { return imfFixdate(fields) }
            if longDayNames.contains(dayName) { return rfc850Date(fields) }
            return nil
        }
        return asctimeDate(text)
    }

    /// `06 Nov 1994 08:49:37 GMT`, split on spaces.
    private static func imfFixdate(_ fields: [String]) -> FileTime? {
        guard fields.count == 5, fields[4] == "GMT", let day = number(fields[0], digits: 2),
              let month = month(fields[1]), let year = number(fields[2], digits: 4) else { return nil }
        return time(year: year, month: month, day: day, timeOfDay: fields[3])
    }

    /// `06-Nov-94 08:49:37 GMT`, split on spaces.
    private static func rfc850Date(_ fields: [String]) -> FileTime? {
        guard fields.count == 3, fields[2] == "GMT" else { return nil }
        let date = fields[0].split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        guard date.count == 3, let day = number(date[0], digits: 2), let month = month(date[1]),
              let shortYear = number(date[2], digits: 2) else { return nil }
        return time(year: 2000 + shortYear, month: month, day: day, timeOfDay: fields[1])
    }

    /// `Sun Nov  6 08:49:37 1994`: a one-digit day is padded with a space, not a zero.
    private static func asctimeDate(_ text: String) -> FileTime? {
        let bytes = Array(text.utf8)
        guard bytes.count == 24, bytes[3] == 0x20, bytes[7] == 0x20, bytes[10] == 0x20, bytes[19] == 0x20 else {
            return nil
        }
        func field(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }
        guard shortDayNames.contains(field(0..<3)), let month = month(field(4..<7)) else { return nil }
        let dayField = field(8..<10)
        let day = dayField.hasPrefix(" ") ? number(String(dayField.dropFirst()), digits: 1) : number(dayField, digits: 2)
        guard let day, let year = number(field(20..<24), digits: 4) else { return nil }
        return time(year: year, month: month, day: day, timeOfDay: field(11..<19))
    }

    /// Combines a checked calendar date with `HH:MM:SS`; nil when any part is out of range,
    /// the year included: a file time holds 1677 to 2262, and a four-digit year goes beyond.
    private static func time(year: Int, month: Int, day: Int, timeOfDay: String) -> FileTime? {
        let parts = timeOfDay.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, let hour = number(parts[0], digits: 2), let minute = number(parts[1], digits: 2),
              let second = number(parts[2], digits: 2), hour <= 23, minute <= 59, second <= 60,
              (1...12).contains(month), (1...daysInMonth(year: year, month: month)).contains(day) else { return nil }
        let seconds = CivilDateTime.daysSinceEpoch(year: year, month: month, day: day) * 86_400 + hour * 3_600 + minute * 60 + second
        let (nanoseconds, overflowed) = Int64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        return overflowed ? nil : FileTime(nanosecondsSince1970: nanoseconds)
    }

    /// Exactly `digits` ASCII digits.
    private static func number(_ text: String, digits: Int) -> Int? {
        let bytes = Array(text.utf8)
        guard bytes.count == digits, bytes.allSatisfy(isDigit) else { return nil }
        return bytes.reduce(0) { $0 * 10 + Int($1 - 0x30) }
    }

    /// 1 for `Jan` … 12 for `Dec`; the names are case-sensitive, as RFC 9110 writes them.
    private static func month(_ text: String) -> Int? {
        monthNames.firstIndex(of: text).map { $0 + 1 }
    }

    static func isDigit(_ byte: UInt8) -> Bool { (0x30...0x39).contains(byte) }

    /// The decimal value of `digits`, or a billion when it is larger.
    static func saturatingInteger(_ digits: [UInt8]) -> Int64 {
        var value: Int64 = 0
        for digit in digits {
            let (shifted, overflowed) = value.multipliedReportingOverflow(by: 10)
            let (added, overflowedAgain) = shifted.addingReportingOverflow(Int64(digit - 0x30))
            // Over 31 years, so any cap applies; small enough that nanoseconds fit in 64 bits.
            guard !overflowed, !overflowedAgain, added <= 1_000_000_000 else { return 1_000_000_000 }
            value = added
        }
        return value
    }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}

extension Array where Element == UInt8 {
    /// Without the spaces and tabs (RFC 9110's OWS) at either end.
    fileprivate func trimmingOptionalWhitespace() -> [UInt8] {
        let isWhitespace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 }
        guard let first = firstIndex(where: { !isWhitespace($0) }), let last = lastIndex(where: { !isWhitespace($0) }) else {
            return []
        }
        return Array(self[first...last])
    }
}
