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
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        raw = trimmed
        if trimmed.uppercased() == "N/A" || trimmed.uppercased() == "NA" {
            bound = .notAvailable
            return
        }
        var rest = Substring(trimmed)
        var parsedBound = Bound.exact
        if rest.hasPrefix(">") {
            parsedBound = .greaterThan
            rest = rest.dropFirst()
        } else if rest.hasPrefix("<") {
            parsedBound = .lessThan
            rest = rest.dropFirst()
        }
        rest = rest.drop { $0 == " " }
        let numberText = rest.prefix { $0.isASCII && ($0.isNumber || $0 == "." || $0 == "-" || $0 == "+") }
        guard !numberText.isEmpty, let parsed = Double(numberText) else {
            bound = .text
            return
        }
        let unitText = rest.dropFirst(numberText.count).trimmingCharacters(in: .whitespaces)
        bound = parsedBound
        number = parsed
        unit = unitText.isEmpty ? nil : unitText
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

/// The line-by-line reader behind `BlastwareReport(parsing:)`.
enum ReportParser {
    static let channelNames = ["Tran", "Vert", "Long", "MicL"]

    /// A key with whitespace runs collapsed and case folded, for comparisons.
    static func comparisonKey(_ key: String) -> String {
        normalisedKey(key).lowercased()
    }

    /// A key with surrounding whitespace removed and inner whitespace runs collapsed to one space.
    static func normalisedKey(_ key: some StringProtocol) -> String {
        key.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }

    static func parse(_ text: String) -> BlastwareReport {
        var report = BlastwareReport(rawText: text)
        var inMonitorLog = false
        var inTable = false
        var unitsIndex: Int?
        var geoRangeIndex: Int?

        // `\r\n` is one Character in Swift, so split on any newline rather than on `\n`.
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty {
                inMonitorLog = false
                continue
            }
            if inTable {
                report.tableRowCount += 1
                continue
            }
            let isQuoted = trimmed.hasPrefix("\"")
            var content = Substring(trimmed)
            if isQuoted {
                content = content.dropFirst()
                if content.hasSuffix("\"") { content = content.dropLast() }
            }
            if inMonitorLog, content.contains("\t"), content.range(of: " : ") == nil {
                let columns = content.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
                    .map { $0.trimmingCharacters(in: .whitespaces) }
                report.monitorLog.append(MonitorLogRow(
                    start: columns[0], stop: columns.count > 1 ? columns[1] : "",
                    description: columns.count > 2 ? columns[2] : ""))
                continue
            }
            if let separator = content.range(of: " : ") {
                inMonitorLog = false
                let key = normalisedKey(content[..<separator.lowerBound])
                let value = content[separator.upperBound...].trimmingCharacters(in: .whitespaces)
                report.fields.append(ReportField(key: key, value: value))
                continue
            }
            if content.hasSuffix(" :") {
                inMonitorLog = false
                report.fields.append(ReportField(key: normalisedKey(content.dropLast(2)), value: ""))
                continue
            }
            if comparisonKey(String(content)) == "monitor log(s)" {
                inMonitorLog = true
                continue
            }
            if !isQuoted, !report.fields.isEmpty {
                // The first unquoted line after the metadata is the table header.
                inTable = true
                report.tableColumns = content.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            }
        }

        for (index, field) in report.fields.enumerated() {
            let key = comparisonKey(field.key)
            if key == "units", unitsIndex == nil { unitsIndex = index }
            if key == "geo range", geoRangeIndex == nil { geoRangeIndex = index }
            apply(field, key: key, to: &report)
        }
        if let unitsIndex, let geoRangeIndex, geoRangeIndex > unitsIndex + 1 {
            for (position, index) in (unitsIndex + 1..<geoRangeIndex).enumerated() {
                let field = report.fields[index]
                var label = field.key
                while label.hasSuffix(":") { label.removeLast() }
                report.userNotes.append(UserNote(
                    position: position,
                    role: position < UserNote.roles.count ? UserNote.roles[position] : nil,
                    label: label.trimmingCharacters(in: .whitespaces),
                    value: field.value))
            }
        }
        return report
    }

    /// Stores one field in its structured slot, if it has one.
    private static func apply(_ field: ReportField, key: String, to report: inout BlastwareReport) {
        let value = field.value
        switch key {
        case "serial number": report.serialNumber = value
        case "event type": report.eventType = value
        case "event date": report.eventDate = value
        case "event time": report.eventTime = value
        case "trigger": report.trigger = value
        case "sample rate": report.sampleRate = ReportValue(parsing: value)
        case "record time": report.recordTime = ReportValue(parsing: value)
        case "pre-trigger length", "pre-trigger", "pretrigger length": report.preTriggerLength = ReportValue(parsing: value)
        case "units": report.units = value
        case "geo range": report.geoRange = ReportValue(parsing: value)
        case "peak vector sum": report.peakVectorSum = ReportValue(parsing: value)
        case "peak vector sum time": report.peakVectorSumTime = ReportValue(parsing: value)
        case "peak vector sum date": report.peakVectorSumDate = value
        case "battery level", "battery": report.batteryLevel = ReportValue(parsing: value)
        case "calibration date": report.calibrationDate = value
        case "pc sw version": report.pcSoftwareVersion = value
        case "histogram start date": report.histogramSummary.startDate = value
        case "histogram start time": report.histogramSummary.startTime = value
        case "histogram stop date": report.histogramSummary.stopDate = value
        case "histogram stop time": report.histogramSummary.stopTime = value
        case "number of intervals": report.histogramSummary.numberOfIntervals = Int(value.trimmingCharacters(in: .whitespaces))
        case "interval size": report.histogramSummary.intervalSize = value
        default: applyChannelField(key: key, value: value, to: &report)
        }
    }

    private static func applyChannelField(key: String, value: String, to report: inout BlastwareReport) {
        guard let channel = channelNames.first(where: { key.hasPrefix($0.lowercased() + " ") }) else { return }
        let reading = String(key.dropFirst(channel.count + 1))
        var readings = report.channels[channel] ?? ChannelReadings()
        switch reading {
        case "ppv": readings.peakParticleVelocity = ReportValue(parsing: value)
        case "zc freq", "zc frequency": readings.zeroCrossingFrequency = ReportValue(parsing: value)
        case "time of peak": readings.timeOfPeak = ReportValue(parsing: value)
        case "peak acceleration", "peak accel": readings.peakAcceleration = ReportValue(parsing: value)
        case "peak displacement", "peak disp": readings.peakDisplacement = ReportValue(parsing: value)
        case "pspl": readings.peakSoundPressureLevel = ReportValue(parsing: value)
        case "test freq", "test frequency": readings.testFrequency = ReportValue(parsing: value)
        case "test ratio": readings.testRatio = ReportValue(parsing: value)
        case "test results", "test result": readings.testResults = value
        case "test amplitude": readings.testAmplitude = ReportValue(parsing: value)
        case "peak time": readings.peakTime = value
        case "peak date": readings.peakDate = value
        default: return
        }
        report.channels[channel] = readings
    }
}

extension BlastwareReport {
    /// The histogram summary, created on first write so waveform reports keep it nil.
    fileprivate var histogramSummary: HistogramSummary {
        get { histogram ?? HistogramSummary() }
        set { histogram = newValue }
    }
}
