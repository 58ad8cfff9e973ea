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
        let range = ReportParser.trimmed(0..<bytes.count, in: bytes)
        self.init(bytes: bytes, range: range, raw: ReportParser.string(range, in: bytes))
    }

    /// Parses the already trimmed `range` of a report's bytes, whose text is `raw`.
    ///
    /// Works on UTF-8 bytes: a report has dozens of values and the mock parses every upload's.
    init(bytes: [UInt8], range: Range<Int>, raw: String) {
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

/// The line-by-line reader behind `BlastwareReport(parsing:)`.
enum ReportParser {

    /// A key with whitespace runs collapsed and ASCII case folded, for comparisons.
    static func comparisonKey(_ key: String) -> String {
        let bytes = Array(key.utf8)
        return String(decoding: normalised(0..<bytes.count, in: bytes).map(lower), as: UTF8.self)
    }

    static func upper(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) ? byte - 32 : byte
    }

    static func lower(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte + 32 : byte
    }

    static func isBlank(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
    }

    /// `range` without leading and trailing spaces, tabs and carriage returns.
    static func trimmed(_ range: Range<Int>, in bytes: [UInt8]) -> Range<Int> {
        var lower = range.lowerBound
        var upper = range.upperBound
        while lower < upper, isBlank(bytes[lower]) { lower += 1 }
        while upper > lower, isBlank(bytes[upper - 1]) { upper -= 1 }
        return lower..<upper
    }

    /// The bytes of `range` trimmed, with inner runs of spaces and tabs collapsed to one space.
    static func normalised(_ range: Range<Int>, in bytes: [UInt8]) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(range.count)
        var pendingSpace = false
        for index in trimmed(range, in: bytes) {
            if isBlank(bytes[index]) {
                pendingSpace = true
                continue
            }
            if pendingSpace {
                result.append(UInt8(ascii: " "))
                pendingSpace = false
            }
            result.append(bytes[index])
        }
        return result
    }

    static func string(_ range: Range<Int>, in bytes: [UInt8]) -> String {
        String(decoding: bytes[range], as: UTF8.self)
    }

    /// The first ` : ` in `range`, as the index of its space.
    static func separator(in range: Range<Int>, of bytes: [UInt8]) -> Int? {
        guard range.count >= 3 else { return nil }
        var index = range.lowerBound
        while index + 2 < range.upperBound {
            if bytes[index + 1] == UInt8(ascii: ":"), bytes[index] == UInt8(ascii: " "), bytes[index + 2] == UInt8(ascii: " ") {
                return index
            }
            index += 1
        }
        return nil
    }

    /// Reads the report line by line on its UTF-8 bytes; `\r\n` and `\n` both end a line.
    static func parse(_ text: String) -> BlastwareReport {
        var report = BlastwareReport(rawText: text)
        let bytes = Array(text.utf8)
        var inMonitorLog = false
        var inTable = false
        var unitsIndex: Int?
        var geoRangeIndex: Int?
        let monitorLogMarker = Array("monitor log(s)".utf8)
        let tab = UInt8(ascii: "\t")
        let quote = UInt8(ascii: "\"")

        var lineStart = 0
        while lineStart < bytes.count {
            let lineEnd = bytes[lineStart...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            defer { lineStart = lineEnd + 1 }
            var line = trimmed(lineStart..<lineEnd, in: bytes)
            if line.isEmpty {
                inMonitorLog = false
                continue
            }
            if inTable {
                report.tableRowCount += 1
                continue
            }
            let isQuoted = bytes[line.lowerBound] == quote
            if isQuoted {
                line = line.dropFirst()
                if let last = line.last, bytes[last] == quote { line = line.dropLast() }
            }
            let separator = separator(in: line, of: bytes)
            if inMonitorLog, separator == nil, bytes[line].contains(tab) {
                var columns: [String] = []
                var columnStart = line.lowerBound
                while columns.count < 2, let columnEnd = bytes[columnStart..<line.upperBound].firstIndex(of: tab) {
                    columns.append(string(trimmed(columnStart..<columnEnd, in: bytes), in: bytes))
                    columnStart = columnEnd + 1
                }
                columns.append(string(trimmed(columnStart..<line.upperBound, in: bytes), in: bytes))
                report.monitorLog.append(MonitorLogRow(
                    start: columns[0], stop: columns.count > 1 ? columns[1] : "",
                    description: columns.count > 2 ? columns[2] : ""))
                continue
            }
            let isEmptyField = line.count >= 2 && bytes[line.upperBound - 1] == UInt8(ascii: ":")
                && bytes[line.upperBound - 2] == UInt8(ascii: " ")
            if separator != nil || isEmptyField {
                inMonitorLog = false
                let keyEnd = separator ?? line.upperBound - 2
                let valueRange = separator.map { trimmed($0 + 3..<line.upperBound, in: bytes) } ?? line.upperBound..<line.upperBound
                let keyBytes = normalised(line.lowerBound..<keyEnd, in: bytes)
                let field = ReportField(key: String(decoding: keyBytes, as: UTF8.self), value: string(valueRange, in: bytes))
                report.fields.append(field)
                let comparisonKey = String(decoding: keyBytes.map(lower), as: UTF8.self)
                if comparisonKey == "units", unitsIndex == nil { unitsIndex = report.fields.count - 1 }
                if comparisonKey == "geo range", geoRangeIndex == nil { geoRangeIndex = report.fields.count - 1 }
                apply(key: comparisonKey, value: field.value, bytes: bytes, valueRange: valueRange, to: &report)
                continue
            }
            if normalised(line, in: bytes).map(lower) == monitorLogMarker {
                inMonitorLog = true
                continue
            }
            if !isQuoted, !report.fields.isEmpty {
                // The first unquoted line after the metadata is the table header.
                inTable = true
                report.tableColumns = bytes[line].split(whereSeparator: isBlank).map { String(decoding: $0, as: UTF8.self) }
            }
        }

        if let unitsIndex, let geoRangeIndex, geoRangeIndex > unitsIndex + 1 {
            for (position, index) in (unitsIndex + 1..<geoRangeIndex).enumerated() {
                let field = report.fields[index]
                var label = Array(field.key.utf8)
                while label.last == UInt8(ascii: ":") { label.removeLast() }
                report.userNotes.append(UserNote(
                    position: position,
                    role: position < UserNote.roles.count ? UserNote.roles[position] : nil,
                    label: string(trimmed(0..<label.count, in: label), in: label),
                    value: field.value))
            }
        }
        return report
    }

    /// Stores one field in its structured slot, if it has one.
    /// Where a field's value goes, found with one dictionary lookup per line.
    enum FieldSlot: Sendable {
        case serialNumber, eventType, eventDate, eventTime, trigger, sampleRate, recordTime, preTriggerLength
        case units, geoRange, peakVectorSum, peakVectorSumTime, peakVectorSumDate, batteryLevel
        case calibrationDate, pcSoftwareVersion
        case histogramStartDate, histogramStartTime, histogramStopDate, histogramStopTime
        case numberOfIntervals, intervalSize
        case channel(String, ChannelSlot)
    }

    enum ChannelSlot: Sendable {
        case peakParticleVelocity, zeroCrossingFrequency, timeOfPeak, peakAcceleration, peakDisplacement
        case peakSoundPressureLevel, testFrequency, testRatio, testResults, testAmplitude, peakTime, peakDate
    }

    /// Comparison keys (lower case, single spaces) of every field with a structured slot.
    static let slots: [String: FieldSlot] = {
        var slots: [String: FieldSlot] = [
            "serial number": .serialNumber, "event type": .eventType, "event date": .eventDate,
            "event time": .eventTime, "trigger": .trigger, "sample rate": .sampleRate, "record time": .recordTime,
            "pre-trigger length": .preTriggerLength, "pre-trigger": .preTriggerLength,
            "pretrigger length": .preTriggerLength, "units": .units, "geo range": .geoRange,
            "peak vector sum": .peakVectorSum, "peak vector sum time": .peakVectorSumTime,
            "peak vector sum date": .peakVectorSumDate, "battery level": .batteryLevel, "battery": .batteryLevel,
            "calibration date": .calibrationDate, "pc sw version": .pcSoftwareVersion,
            "histogram start date": .histogramStartDate, "histogram start time": .histogramStartTime,
            "histogram stop date": .histogramStopDate, "histogram stop time": .histogramStopTime,
            "number of intervals": .numberOfIntervals, "interval size": .intervalSize,
        ]
        let readings: [String: ChannelSlot] = [
            "ppv": .peakParticleVelocity, "zc freq": .zeroCrossingFrequency, "zc frequency": .zeroCrossingFrequency,
            "time of peak": .timeOfPeak, "peak acceleration": .peakAcceleration, "peak accel": .peakAcceleration,
            "peak displacement": .peakDisplacement, "peak disp": .peakDisplacement, "pspl": .peakSoundPressureLevel,
            "test freq": .testFrequency, "test frequency": .testFrequency, "test ratio": .testRatio,
            "test results": .testResults, "test result": .testResults, "test amplitude": .testAmplitude,
            "peak time": .peakTime, "peak date": .peakDate,
        ]
        for channel in ["Tran", "Vert", "Long", "MicL"] {
            for (reading, slot) in readings {
                slots[channel.lowercased() + " " + reading] = .channel(channel, slot)
            }
        }
        return slots
    }()

    /// Stores one field in its structured slot, if it has one.
    private static func apply(key: String, value: String, bytes: [UInt8], valueRange: Range<Int>,
                              to report: inout BlastwareReport) {
        guard let slot = slots[key] else { return }
        func measured() -> ReportValue { ReportValue(bytes: bytes, range: valueRange, raw: value) }
        switch slot {
        case .serialNumber: report.serialNumber = value
        case .eventType: report.eventType = value
        case .eventDate: report.eventDate = value
        case .eventTime: report.eventTime = value
        case .trigger: report.trigger = value
        case .sampleRate: report.sampleRate = measured()
        case .recordTime: report.recordTime = measured()
        case .preTriggerLength: report.preTriggerLength = measured()
        case .units: report.units = value
        case .geoRange: report.geoRange = measured()
        case .peakVectorSum: report.peakVectorSum = measured()
        case .peakVectorSumTime: report.peakVectorSumTime = measured()
        case .peakVectorSumDate: report.peakVectorSumDate = value
        case .batteryLevel: report.batteryLevel = measured()
        case .calibrationDate: report.calibrationDate = value
        case .pcSoftwareVersion: report.pcSoftwareVersion = value
        case .histogramStartDate: report.histogramSummary.startDate = value
        case .histogramStartTime: report.histogramSummary.startTime = value
        case .histogramStopDate: report.histogramSummary.stopDate = value
        case .histogramStopTime: report.histogramSummary.stopTime = value
        case .numberOfIntervals: report.histogramSummary.numberOfIntervals = Int(value)
        case .intervalSize: report.histogramSummary.intervalSize = value
        case .channel(let channel, let reading):
            apply(reading, value: value, measured: measured, to: &report.channels[channel, default: ChannelReadings()])
        }
    }

    private static func apply(_ slot: ChannelSlot, value: String, measured: () -> ReportValue,
                              to readings: inout ChannelReadings) {
        switch slot {
        case .peakParticleVelocity: readings.peakParticleVelocity = measured()
        case .zeroCrossingFrequency: readings.zeroCrossingFrequency = measured()
        case .timeOfPeak: readings.timeOfPeak = measured()
        case .peakAcceleration: readings.peakAcceleration = measured()
        case .peakDisplacement: readings.peakDisplacement = measured()
        case .peakSoundPressureLevel: readings.peakSoundPressureLevel = measured()
        case .testFrequency: readings.testFrequency = measured()
        case .testRatio: readings.testRatio = measured()
        case .testResults: readings.testResults = value
        case .testAmplitude: readings.testAmplitude = measured()
        case .peakTime: readings.peakTime = value
        case .peakDate: readings.peakDate = value
        }
    }
}

extension BlastwareReport {
    /// The histogram summary, created on first write so waveform reports keep it nil.
    fileprivate var histogramSummary: HistogramSummary {
        get { histogram ?? HistogramSummary() }
        set { histogram = newValue }
    }
}
