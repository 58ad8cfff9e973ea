/// Reads the Python forwarder's `{"version": 1, "forwarded": {sha256: {...}}}` state.
///
/// A hand-written streaming parser rather than `JSONSerialization`: a million-entry file is
/// 190 MB, and the tree of objects it became took 3.5 GB and eight minutes, most of them in
/// ICU parsing each ISO-8601 date (issue #14). This reads the bytes once, keeps nothing per
/// entry but the record it hands out, and parses dates by hand.
///
/// Entries without `had_report` count as sent with their report, as upstream decided, so an
/// import never re-sends anything. An entry without `forwarded_at` is dated at the epoch.
public enum VersionOneState {
    /// Why a file could not be imported.
    public enum Failure: Error, Hashable, Sendable {
        /// Not JSON; the detail says where and what was expected.
        case malformedJSON(String)
        case rootNotObject
        /// `version` is not 1: the value as written, or nil when it is missing.
        case unsupportedVersion(String?)
        case forwardedNotObject
        /// The entry under `key` is not a valid record; the detail says which field.
        case invalidEntry(key: String, detail: String)
    }

    /// Parses `bytes` and hands every entry to `add`, in file order; throws a `Failure`.
    ///
    /// Checks are reported in a fixed order whatever the order of the keys: a malformed file,
    /// then the root, the version, the `forwarded` value, then the first invalid entry.
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>, each add: (ForwardRecord) -> Void) throws {
        var reader = JSONReader(bytes: bytes)
        var version: String?
        var versionIsOne = false
        var forwardedIsObject = true
        var firstInvalidEntry: Failure?
        do {
            reader.skipByteOrderMark()
            guard reader.peekNonWhitespace() == UInt8(ascii: "{") else {
                if reader.peekNonWhitespace() == nil { throw JSONReader.Malformed(offset: reader.position, expected: "a value") }
                try reader.skipValue()
                try reader.expectEnd()
                throw Failure.rootNotObject
            }
            try reader.forEachMember { reader, key in
                switch key {
                case "version":
                    let isString = reader.peekNonWhitespace() == UInt8(ascii: "\"")
                    let token = try reader.rawValue()
                    version = isString ? token.debugDescription : token
                    versionIsOne = !isString && token == "1"
                case "forwarded":
                    guard reader.peekNonWhitespace() == UInt8(ascii: "{") else {
                        forwardedIsObject = false
                        try reader.skipValue()
                        return
                    }
                    try reader.forEachMember { reader, digestKey in
                        switch try entry(&reader, key: digestKey) {
                        case .success(let record): add(record)
                        case .failure(let failure): if firstInvalidEntry == nil { firstInvalidEntry = failure }
                        }
                    }
                default:
                    try reader.skipValue()
                }
            }
            try reader.expectEnd()
        } catch let malformed as JSONReader.Malformed {
            throw Failure.malformedJSON("byte \(malformed.offset): expected \(malformed.expected)")
        }
        guard versionIsOne else { throw Failure.unsupportedVersion(version) }
        guard forwardedIsObject else { throw Failure.forwardedNotObject }
        if let firstInvalidEntry { throw firstInvalidEntry }
    }

    /// One entry's record, or why it is not valid; a JSON syntax error throws.
    private static func entry(_ reader: inout JSONReader, key: String) throws -> Result<ForwardRecord, Failure> {
        func invalid(_ detail: String) -> Result<ForwardRecord, Failure> { .failure(.invalidEntry(key: key, detail: detail)) }
        guard reader.peekNonWhitespace() == UInt8(ascii: "{") else {
            try reader.skipValue()
            return invalid("its value is not an object")
        }
        var fileName: String?
        var byteCount: Int64 = 0
        var hadReport = true
        var forwardedAt = FileTime(nanosecondsSince1970: 0)
        var problem: String?
        try reader.forEachMember { reader, field in
            guard problem == nil else { return try reader.skipValue() }
            switch field {
            case "filename":
                guard let name = try reader.stringValue() else { problem = "filename is not a string"; return }
                fileName = name
            case "size":
                let token = try reader.rawValue()
                guard let size = Int64(token), size >= 0 else { problem = "size \(token) is not a whole number of bytes"; return }
                byteCount = size
            case "had_report":
                switch try reader.rawValue() {
                case "true", "null": hadReport = true
                case "false": hadReport = false
                case let other: problem = "had_report \(other) is not true or false"
                }
            case "forwarded_at":
                if reader.peekNonWhitespace() == UInt8(ascii: "n") {
                    _ = try reader.rawValue()
                    return
                }
                guard let text = try reader.stringValue() else { problem = "forwarded_at is not a string"; return }
                switch parseTimestamp(text) {
                case .success(let time): forwardedAt = time
                case .failure(let reason): problem = "forwarded_at \(text.debugDescription) \(reason.description)"
                }
            default:
                try reader.skipValue()
            }
        }
        if let problem { return invalid(problem) }
        guard let digest = EventDigest(hex: key) else { return invalid("its key is not a SHA-256 in hexadecimal") }
        guard let fileName else { return invalid("it has no filename") }
        guard StateRecordCodec.isStorableFileName(fileName) else {
            return invalid("its filename \(fileName.debugDescription) is empty or holds a tab or line break")
        }
        return .success(ForwardRecord(digest: digest, fileName: fileName, byteCount: byteCount, hadReport: hadReport,
                                      forwardedAt: forwardedAt, fingerprint: nil))
    }

    /// Why a timestamp was refused.
    public enum TimestampProblem: Error, Hashable, Sendable, CustomStringConvertible {
        /// Not `YYYY-MM-DDTHH:MM:SS[.fraction][Z|±HH:MM]`, or a field out of its range.
        case notISO8601
        /// Outside what a file time holds (1677-09-21 to 2262-04-11).
        case outOfRange

        public var description: String {
            switch self {
            case .notISO8601: return "is not an ISO-8601 time like 2026-05-08T10:11:12.345678Z"
            case .outOfRange: return "is outside the years 1678 to 2261 that a state can hold"
            }
        }
    }

    /// Parses the reference's `2026-05-08T10:11:12.345678Z`, with any number of fraction
    /// digits (beyond nanoseconds they are dropped), `Z` or a `±HH:MM` offset; without a zone,
    /// the time is read as UTC.
    public static func parseTimestamp(_ text: String) -> Result<FileTime, TimestampProblem> {
        let bytes = Array(text.utf8)
        var index = 0
        func number(_ digits: Int) -> Int? {
            guard index + digits <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[index..<(index + digits)] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            index += digits
            return value
        }
        func skip(_ allowed: UInt8...) -> Bool {
            guard index < bytes.count, allowed.contains(bytes[index]) else { return false }
            index += 1
            return true
        }
        guard let year = number(4), skip(UInt8(ascii: "-")), let month = number(2), skip(UInt8(ascii: "-")),
              let day = number(2), skip(UInt8(ascii: "T"), UInt8(ascii: "t"), UInt8(ascii: " ")),
              let hour = number(2), skip(UInt8(ascii: ":")), let minute = number(2), skip(UInt8(ascii: ":")),
              let second = number(2),
              (1...12).contains(month), (1...HTTPDate.daysInMonth(year: year, month: month)).contains(day),
              hour < 24, minute < 60, second < 60 else { return .failure(.notISO8601) }
        var nanoseconds: Int64 = 0
        if skip(UInt8(ascii: "."), UInt8(ascii: ",")) {
            var digits = 0
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                if digits < 9 { nanoseconds = nanoseconds * 10 + Int64(bytes[index] - UInt8(ascii: "0")) }
                digits += 1
                index += 1
            }
            guard digits > 0 else { return .failure(.notISO8601) }
            for _ in digits..<max(digits, 9) { nanoseconds *= 10 }
        }
        var offsetSeconds = 0
        if skip(UInt8(ascii: "Z"), UInt8(ascii: "z")) {
            offsetSeconds = 0
        } else if index < bytes.count {
            let sign = bytes[index] == UInt8(ascii: "-") ? -1 : 1
            guard skip(UInt8(ascii: "+"), UInt8(ascii: "-")), let offsetHours = number(2) else { return .failure(.notISO8601) }
            _ = skip(UInt8(ascii: ":"))
            guard let offsetMinutes = number(2), offsetHours < 24, offsetMinutes < 60 else { return .failure(.notISO8601) }
            offsetSeconds = sign * (offsetHours * 3600 + offsetMinutes * 60)
        }
        guard index == bytes.count else { return .failure(.notISO8601) }
        let days = Int64(CivilDateTime.daysSinceEpoch(year: year, month: month, day: day))
        let seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second - offsetSeconds)
        let (scaled, overflowed) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (total, overflowedAgain) = scaled.addingReportingOverflow(nanoseconds)
        guard !overflowed, !overflowedAgain else { return .failure(.outOfRange) }
        return .success(FileTime(nanosecondsSince1970: total))
    }
}
