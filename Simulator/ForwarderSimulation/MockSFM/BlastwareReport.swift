import Foundation

/// A Blastware ASCII report parsed into the fields the SFM server stores, plus its raw text.
///
/// The format is described in domain.md §3: one quoted `"Key : Value"` line per field, split on
/// the first ` : ` because some labels carry their own colon; keys are compared after whitespace
/// normalisation (`MicL  Time of Peak` has a doubled space); the four user-note lines are read by
/// position between `Units` and `Geo Range` because operators rename their labels; a
/// `Monitor Log(s)` marker is followed by tab-separated rows; a sample or interval table ends
/// the file. The parser never fails: what it does not recognise stays in `fields` and `rawText`.
public struct BlastwareReport: Hashable, Sendable, Codable {
    /// Every `Key : Value` line in file order, with whitespace-normalised keys.
    public var fields: [ReportField]
    public var serialNumber: String?
    public var eventType: String?
    public var eventDate: String?
    public var eventTime: String?
    public var trigger: String?
    public var sampleRate: ReportValue?
    public var recordTime: ReportValue?
    public var preTriggerLength: ReportValue?
    public var units: String?
    /// The lines between `Units` and `Geo Range`, whatever their labels say.
    public var userNotes: [UserNote]
    public var geoRange: ReportValue?
    /// Readings per channel, keyed `Tran`, `Vert`, `Long`, `MicL`.
    public var channels: [String: ChannelReadings]
    public var peakVectorSum: ReportValue?
    public var peakVectorSumTime: ReportValue?
    public var peakVectorSumDate: String?
    public var batteryLevel: ReportValue?
    public var calibrationDate: String?
    public var pcSoftwareVersion: String?
    /// Present when the report has any histogram field.
    public var histogram: HistogramSummary?
    public var monitorLog: [MonitorLogRow]
    /// The column names of the trailing sample or interval table, if there is one.
    public var tableColumns: [String]
    public var tableRowCount: Int
    public var rawText: String

    /// The user note at a position (0 = project, 1 = client, 2 = user name, 3 = location).
    public func userNote(at position: Int) -> UserNote? {
        userNotes.first { $0.position == position }
    }

    /// The value of the first field whose normalised key matches `key`, ignoring case.
    public func field(_ key: String) -> String? {
        let wanted = ReportParser.comparisonKey(key)
        return fields.first { ReportParser.comparisonKey($0.key) == wanted }?.value
    }

    /// Parses report text; Windows line endings and unquoted lines are accepted.
    public init(parsing text: String) {
        self = ReportParser.parse(text)
    }

    /// Parses report bytes, replacing bytes that are not UTF-8.
    public init(parsing bytes: some Collection<UInt8>) {
        self.init(parsing: String(decoding: bytes, as: UTF8.self))
    }

    init(rawText: String) {
        fields = []
        userNotes = []
        channels = [:]
        monitorLog = []
        tableColumns = []
        tableRowCount = 0
        self.rawText = rawText
    }
}

/// One `Key : Value` line of a report.
public struct ReportField: Hashable, Sendable, Codable {
    public var key: String
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

/// A user-editable note line, identified by where it sits rather than by its label.
public struct UserNote: Hashable, Sendable, Codable {
    /// The default meanings of the four positions, in order.
    public static let roles = ["project", "client", "userName", "seismographLocation"]

    /// Zero-based position after the `Units` line.
    public var position: Int
    /// `project`, `client`, `userName` or `seismographLocation`; nil past the fourth line.
    public var role: String?
    /// The label as the operator left it, without its trailing colon.
    public var label: String
    public var value: String

    public init(position: Int, role: String?, label: String, value: String) {
        self.position = position
        self.role = role
        self.label = label
        self.value = value
    }
}

/// A measured value as the report prints it, with the number and unit taken apart.
///
/// Blastware prints bounds rather than numbers when a reading is out of range: `>100 Hz` above
/// the zero-crossing ceiling, `<0.005 in/s` below the trigger threshold, `N/A` when there is no
/// reading; `bound` says which, so `>100` is never mistaken for a measured 100.
public struct ReportValue: Hashable, Sendable, Codable {
    public enum Bound: String, Hashable, Sendable, Codable {
        case exact
        case greaterThan
        case lessThan
        case notAvailable
        /// Not a number at all; only `raw` carries it.
        case text
    }

    public var raw: String
    public var bound: Bound
    public var number: Double?
    public var unit: String?

    public init(raw: String, bound: Bound, number: Double?, unit: String?) {
        self.raw = raw
        self.bound = bound
        self.number = number
        self.unit = unit
    }

    /// Splits `0.0450 in/s`, `>100 Hz`, `<0.005 in/s`, `N/A`, `3.9`, `Passed`.
    public init(parsing text: String) {
        let bytes = Array(text.utf8)
        self = bytes.withUnsafeBufferPointer { bytes in
            let range = ReportParser.trimmed(0..<bytes.count, in: bytes)
            return ReportValue(bytes: bytes, range: range, raw: ReportParser.string(range, in: bytes))
        }
    }

    /// Parses the already trimmed `range` of a report's bytes, whose text is `raw`.
    ///
    /// Works on UTF-8 bytes: a report has dozens of values and the mock parses every upload's.
    init(bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>, raw: String) {
        self.raw = raw
        let upper = ReportParser.upper
        if (range.count == 3 && upper(bytes[range.lowerBound]) == UInt8(ascii: "N")
            && bytes[range.lowerBound + 1] == UInt8(ascii: "/") && upper(bytes[range.lowerBound + 2]) == UInt8(ascii: "A"))
            || (range.count == 2 && upper(bytes[range.lowerBound]) == UInt8(ascii: "N")
                && upper(bytes[range.lowerBound + 1]) == UInt8(ascii: "A")) {
            bound = .notAvailable
            return
        }
        var range = range
        var parsedBound = Bound.exact
        if let first = range.first, bytes[first] == UInt8(ascii: ">") || bytes[first] == UInt8(ascii: "<") {
            parsedBound = bytes[first] == UInt8(ascii: ">") ? .greaterThan : .lessThan
            range = ReportParser.trimmed(range.dropFirst(), in: bytes)
        }
        var numberEnd = range.lowerBound
        while numberEnd < range.upperBound, Self.isNumberByte(bytes[numberEnd]) { numberEnd += 1 }
        guard numberEnd > range.lowerBound,
              let parsed = Double(ReportParser.string(range.lowerBound..<numberEnd, in: bytes)) else {
            bound = .text
            return
        }
        let unitRange = ReportParser.trimmed(numberEnd..<range.upperBound, in: bytes)
        bound = parsedBound
        number = parsed
        unit = unitRange.isEmpty ? nil : ReportParser.string(unitRange, in: bytes)
    }

    private static func isNumberByte(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: ".")
            || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "+")
    }
}

/// What a report says about one channel (geophone axis or microphone).
public struct ChannelReadings: Hashable, Sendable, Codable {
    public var peakParticleVelocity: ReportValue?
    public var zeroCrossingFrequency: ReportValue?
    public var timeOfPeak: ReportValue?
    public var peakAcceleration: ReportValue?
    public var peakDisplacement: ReportValue?
    /// Peak sound pressure level, microphone only.
    public var peakSoundPressureLevel: ReportValue?
    public var testFrequency: ReportValue?
    public var testRatio: ReportValue?
    public var testResults: String?
    /// Sensor-check amplitude, microphone only (`533 mv`).
    public var testAmplitude: ReportValue?
    /// Histogram reports: when the channel's peak interval was.
    public var peakTime: String?
    public var peakDate: String?

    public init() {}
}

/// The histogram-only fields of a report.
public struct HistogramSummary: Hashable, Sendable, Codable {
    public var startDate: String?
    public var startTime: String?
    public var stopDate: String?
    public var stopTime: String?
    public var numberOfIntervals: Int?
    public var intervalSize: String?

    public init() {}
}

/// One row under `Monitor Log(s)`: when monitoring started and stopped, and why.
public struct MonitorLogRow: Hashable, Sendable, Codable {
    public var start: String
    public var stop: String
    public var description: String

    public init(start: String, stop: String, description: String) {
        self.start = start
        self.stop = stop
        self.description = description
    }
}
