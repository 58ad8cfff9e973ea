import Foundation

/// The line-by-line reader behind `BlastwareReport(parsing:)`.
enum ReportParser {

    /// A key with whitespace runs collapsed and ASCII case folded, for comparisons.
    static func comparisonKey(_ key: String) -> String {
        let bytes = Array(key.utf8)
        return bytes.withUnsafeBufferPointer { bytes in
            String(decoding: normalised(0..<bytes.count, in: bytes).map(lower), as: UTF8.self)
        }
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
    static func trimmed(_ range: Range<Int>, in bytes: UnsafeBufferPointer<UInt8>) -> Range<Int> {
        var lower = range.lowerBound
        var upper = range.upperBound
        while lower < upper, isBlank(bytes[lower]) { lower += 1 }
        while upper > lower, isBlank(bytes[upper - 1]) { upper -= 1 }
        return lower..<upper
    }

    /// The bytes of `range` trimmed, with inner runs of spaces and tabs collapsed to one space.
    static func normalised(_ range: Range<Int>, in bytes: UnsafeBufferPointer<UInt8>) -> [UInt8] {
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

    static func string(_ range: Range<Int>, in bytes: UnsafeBufferPointer<UInt8>) -> String {
        String(decoding: bytes[range], as: UTF8.self)
    }

    /// The first ` : ` in `range`, as the index of its space.
    static func separator(in range: Range<Int>, of bytes: UnsafeBufferPointer<UInt8>) -> Int? {
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
        // The string's own storage: the mock parses every upload's report, and a copy into an
        // array was 1 % of its CPU.
        var storage = text
        return storage.withUTF8 { parse(bytes: $0, rawText: text) }
    }

    private static func parse(bytes: UnsafeBufferPointer<UInt8>, rawText text: String) -> BlastwareReport {
        var report = BlastwareReport(rawText: text)
        var inMonitorLog = false
        var inTable = false
        var unitsIndex: Int?
        var geoRangeIndex: Int?
        let monitorLogMarker = Array("monitor log(s)".utf8)
        let tab = UInt8(ascii: "\t")
        let quote = UInt8(ascii: "\"")

        var lineStart = 0
        while lineStart < bytes.count {
            // memchr: most of a report is its table, whose lines are only counted.
            let lineEnd = memchr(bytes.baseAddress! + lineStart, Int32(UInt8(ascii: "\n")), bytes.count - lineStart)
                .map { UnsafeRawPointer(bytes.baseAddress!).distance(to: UnsafeRawPointer($0)) } ?? bytes.count
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
                    label: label.withUnsafeBufferPointer { string(trimmed(0..<$0.count, in: $0), in: $0) },
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
    private static func apply(key: String, value: String, bytes: UnsafeBufferPointer<UInt8>, valueRange: Range<Int>,
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
