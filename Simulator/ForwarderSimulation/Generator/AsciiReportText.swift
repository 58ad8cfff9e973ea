import ForwarderCore

/// An ACH ASCII report in the quoted `"Field : Value"` layout of domain.md §3.3.
///
/// Values agree with the event (serial, date, time, sample rate, intervals) so that a server
/// that overlays fields from the report stores what the name says. Lines end in CRLF as on the
/// Windows PCs Blastware runs on. The optional table is formatted byte by byte, since it is
/// most of a report's bytes when present.
struct AsciiReportText {
    let event: PlannedEvent
    let unit: GeneratedUnit

    static let channels = ["Tran", "Vert", "Long"]
    static let monthNames = ["January", "February", "March", "April", "May", "June", "July", "August",
                             "September", "October", "November", "December"]

    private var output: [UInt8] = []
    private var random: SeededRandom

    init(event: PlannedEvent, unit: GeneratedUnit) {
        self.event = event
        self.unit = unit
        self.random = SeededRandom(seed: event.contentSeed).derived("report")
    }

    func bytes() -> [UInt8] {
        var text = self
        text.output.reserveCapacity(3000 + (event.includesSampleTable ? event.recording.tableRowCount * 40 : 0))
        if event.recording.mode == .waveform {
            text.writeWaveform()
        } else {
            text.writeHistogram()
        }
        return text.output
    }

    // MARK: Variants

    private mutating func writeWaveform() {
        let time = event.name.localTime
        let recording = event.recording
        let recordSeconds = Double(recording.recordDuration.wholeNanoseconds) / 1e9
        field("Serial Number", unit.unitSerial)
        field("Event Type", "Full Waveform")
        field("Event Date", Self.longDate(time))
        field("Event Time", Self.clockTime(time))
        field("Trigger", "Geo: \(Self.fixed(random.element(of: [10, 20, 50, 100]), decimals: 3)) in/s")
        field("Sample Rate", "\(recording.samplesPerSecond) sps")
        field("Record Time", "\(Self.fixed(Int(recordSeconds * 10), decimals: 1)) sec")
        field("Pre-trigger Length", "\(Self.fixed(Int(recording.pretriggerDuration.wholeNanoseconds / 1_000_000), decimals: 3)) sec")
        field("Units", "US")
        writeNotes()
        field("Geo Range", unit.geoRange)
        let recordMilliseconds = Int(recording.recordDuration.wholeNanoseconds / 1_000_000)
        var peakSum = 0.0
        for channel in Self.channels {
            let peak = peakVelocity()
            peakSum += Double(peak) * Double(peak)
            field("\(channel) PPV", "\(Self.fixed(peak, decimals: 4)) in/s")
            field("\(channel) ZC Freq", zeroCrossingFrequency())
            field("\(channel) Time of Peak", "\(Self.fixed(random.integer(in: 0...recordMilliseconds), decimals: 3)) sec")
            field("\(channel) Peak Acceleration", "\(Self.fixed(random.integer(in: 10...3000), decimals: 4)) g")
            field("\(channel) Peak Displacement", "\(Self.fixed(random.integer(in: 5...2000), decimals: 5)) in")
        }
        field("Peak Vector Sum", "\(Self.fixed(Int(peakSum.squareRoot()), decimals: 4)) in/s")
        field("Peak Vector Sum Time", "\(Self.fixed(random.integer(in: 0...recordMilliseconds), decimals: 3)) sec")
        field("MicL PSPL", "\(Self.fixed(random.integer(in: 880...1400), decimals: 1)) dB(L)")
        field("MicL ZC Freq", zeroCrossingFrequency())
        field("MicL  Time of Peak", "\(Self.fixed(random.integer(in: 0...recordMilliseconds), decimals: 3)) sec")
        writeSensorChecks()
        field("Calibration Date", Self.longDate(SimCivilTime(secondsSince1985: unit.calibrationSecondsSince1985)))
        writeMonitorLog(start: event.name.secondsSince1985 - random.integer(in: 3600...36_000), format: Self.longDate)
        field("PC SW Version", unit.pcSoftwareVersion)
        if event.includesSampleTable { writeWaveformTable(rowCount: recording.samplesPerChannel) }
    }

    private mutating func writeHistogram() {
        let start = event.name.localTime
        let recording = event.recording
        let spanSeconds = Int(recording.recordDuration.wholeNanoseconds / 1_000_000_000)
        let stop = SimCivilTime(secondsSince1985: event.name.secondsSince1985 + spanSeconds)
        field("Serial Number", unit.unitSerial)
        field("Event Type", "Full Histogram")
        field("Histogram Start Date", Self.isoDate(start))
        field("Histogram Start Time", Self.clockTime(start))
        field("Histogram Stop Date", Self.isoDate(stop))
        field("Histogram Stop Time", Self.clockTime(stop))
        field("Number of Intervals", "\(recording.histogramIntervalCount)")
        field("Interval Size", Self.intervalSize(recording.histogramInterval))
        field("Sample Rate", "\(recording.samplesPerSecond) sps")
        field("Units", "US")
        writeNotes()
        field("Geo Range", unit.geoRange)
        func peakMoment() -> SimCivilTime {
            SimCivilTime(secondsSince1985: event.name.secondsSince1985 + random.integer(in: 0...max(0, spanSeconds - 1)))
        }
        var peakSum = 0.0
        for channel in Self.channels {
            let peak = peakVelocity()
            peakSum += Double(peak) * Double(peak)
            let moment = peakMoment()
            field("\(channel) PPV", "\(Self.fixed(peak, decimals: 4)) in/s")
            field("\(channel) ZC Freq", zeroCrossingFrequency())
            field("\(channel) Peak Time", Self.clockTime(moment))
            field("\(channel) Peak Date", Self.isoDate(moment))
            field("\(channel) Peak Acceleration", "\(Self.fixed(random.integer(in: 10...3000), decimals: 4)) g")
            field("\(channel) Peak Displacement", "\(Self.fixed(random.integer(in: 5...2000), decimals: 5)) in")
        }
        let vectorSumMoment = peakMoment()
        field("Peak Vector Sum", "\(Self.fixed(Int(peakSum.squareRoot()), decimals: 4)) in/s")
        field("Peak Vector Sum Time", Self.clockTime(vectorSumMoment))
        field("Peak Vector Sum Date", Self.isoDate(vectorSumMoment))
        let micMoment = peakMoment()
        field("MicL PSPL", "\(Self.fixed(random.integer(in: 880...1400), decimals: 1)) dB(L)")
        field("MicL ZC Freq", zeroCrossingFrequency())
        field("MicL Peak Time", Self.clockTime(micMoment))
        field("MicL Peak Date", Self.isoDate(micMoment))
        writeSensorChecks()
        field("Calibration Date", Self.isoDate(SimCivilTime(secondsSince1985: unit.calibrationSecondsSince1985)))
        writeMonitorLog(start: event.name.secondsSince1985, format: Self.isoDate)
        field("PC SW Version", unit.pcSoftwareVersion)
        if event.includesSampleTable { writeHistogramTable() }
    }

    // MARK: Sections

    /// The four user-note lines, by position between `Units` and `Geo Range`.
    private mutating func writeNotes() {
        for (label, value) in zip(unit.noteLabels(for: event.recording.mode), unit.noteValues) {
            field(label, value)
        }
    }

    private mutating func writeSensorChecks() {
        for channel in Self.channels {
            field("\(channel) Test Freq", "\(Self.fixed(random.integer(in: 70...80), decimals: 1)) Hz")
            field("\(channel) Test Ratio", Self.fixed(random.integer(in: 32...46), decimals: 1))
            field("\(channel) Test Results", random.chance(0.02) ? "Failed" : "Passed")
        }
        field("MicL Test Amplitude", "\(random.integer(in: 480...560)) mv")
        field("Battery Level", "\(Self.fixed(unit.batteryDecivolts, decimals: 1)) Volts")
    }

    private mutating func writeMonitorLog(start: Int, format: (SimCivilTime) -> String) {
        marker("Monitor Log(s)")
        var rowStart = start
        for _ in 0..<random.integer(in: 1...3) {
            let rowStop = rowStart + random.integer(in: 600...20_000)
            let description = random.element(of: ["Monitoring", "Event recorded", "Auto Call Home", "Low battery warning"])
            line("\(format(SimCivilTime(secondsSince1985: rowStart))) \(Self.clockTime(SimCivilTime(secondsSince1985: rowStart)))\t"
                + "\(format(SimCivilTime(secondsSince1985: rowStop))) \(Self.clockTime(SimCivilTime(secondsSince1985: rowStop)))\t"
                + description)
            rowStart = rowStop + random.integer(in: 60...3600)
        }
    }

    /// Every waveform row is exactly four eight-byte cells (`-0.0060\t` … ` 0.040\r\n`), so a
    /// row is written as four 64-bit stores into space reserved up front.
    private mutating func writeWaveformTable(rowCount: Int) {
        line("")
        line(" Tran\tVert\tLong\tMicL")
        let start = output.count
        output.append(contentsOf: repeatElement(0, count: rowCount * Self.waveformRowByteCount))
        var rowRandom = random
        output.withUnsafeMutableBytes { buffer in
            var offset = start
            for _ in 0..<rowCount {
                let draw = rowRandom.next()
                for channel in 0..<3 {
                    buffer.storeBytes(of: Self.waveformGeoCellWords[Int((draw >> (channel * 16)) & 0x1F)],
                                      toByteOffset: offset, as: UInt64.self)
                    offset += 8
                }
                let mic = Int((draw >> 48) & 0xFF)
                buffer.storeBytes(of: Self.waveformMicrophoneCellWords[mic < 200 ? 0 : mic - 200],
                                  toByteOffset: offset, as: UInt64.self)
                offset += 8
            }
        }
        random = rowRandom
    }

    private mutating func writeHistogramTable() {
        line("")
        line(" Date\tTime\tTran\tTran Freq\tVert\tVert Freq\tLong\tLong Freq\tMicL\tMicL Freq")
        let intervalSeconds = Int(event.recording.histogramInterval.wholeNanoseconds / 1_000_000_000)
        var dayNumber = -1
        var datePrefix: [UInt8] = []
        for index in 0..<event.recording.histogramIntervalCount {
            let seconds = event.name.secondsSince1985 + index * intervalSeconds
            // The date changes once a day, so it is formatted once a day.
            if seconds / 86_400 != dayNumber {
                dayNumber = seconds / 86_400
                datePrefix = Array(" \(Self.isoDate(SimCivilTime(secondsSince1985: seconds)))\t".utf8)
            }
            output.append(contentsOf: datePrefix)
            let secondOfDay = seconds % 86_400
            for (position, part) in [secondOfDay / 3600, secondOfDay % 3600 / 60, secondOfDay % 60].enumerated() {
                if position > 0 { output.append(UInt8(ascii: ":")) }
                output.append(UInt8(ascii: "0") + UInt8(part / 10))
                output.append(UInt8(ascii: "0") + UInt8(part % 10))
            }
            let draw = random.next()
            for channel in 0..<4 {
                let count = Int((draw >> (channel * 16)) & 0x3F)
                output.append(contentsOf: channel == 3 ? Self.histogramMicrophoneCells[count] : Self.histogramGeoCells[count])
                output.append(contentsOf: Self.histogramFrequencyCells[Int((draw >> (channel * 16 + 6)) & 0x3F)])
            }
            output.append(contentsOf: [0x0D, 0x0A])
        }
    }

    // MARK: Values

    /// A peak particle velocity in 1/10,000 in/s: mostly small, sometimes a real blast.
    private mutating func peakVelocity() -> Int {
        max(50, Int(random.logNormal(median: 0.03, percentile95: 0.4) * 10_000))
    }

    /// A zero-crossing frequency, sometimes above the 100 Hz ceiling or not available.
    private mutating func zeroCrossingFrequency() -> String {
        let draw = random.unitInterval()
        if draw < 0.05 { return ">100 Hz" }
        if draw < 0.08 { return "N/A" }
        return "\(random.integer(in: 3...99)) Hz"
    }

    // MARK: Output

    private mutating func field(_ label: String, _ value: String) {
        output.append(UInt8(ascii: "\""))
        output.append(contentsOf: label.utf8)
        output.append(contentsOf: " : ".utf8)
        output.append(contentsOf: value.utf8)
        output.append(contentsOf: [UInt8(ascii: "\""), 0x0D, 0x0A])
    }

    private mutating func marker(_ text: String) {
        output.append(UInt8(ascii: "\""))
        output.append(contentsOf: text.utf8)
        output.append(contentsOf: [UInt8(ascii: "\""), 0x0D, 0x0A])
    }

    private mutating func line(_ text: String) {
        output.append(contentsOf: text.utf8)
        output.append(contentsOf: [0x0D, 0x0A])
    }

    // MARK: Table cells

    /// Table cells are drawn from a few dozen values each, so they are formatted once here and
    /// copied per row; formatting numbers per row was most of the generator's own time.
    static func cells(_ values: [Int], decimals: Int, leading: String, trailing: String) -> [[UInt8]] {
        values.map { value in
            let sign = value < 0 ? "-" : " "
            return Array((leading + sign + fixed(abs(value), decimals: decimals) + trailing).utf8)
        }
    }

    static let waveformRowByteCount = 32

    /// The eight bytes of each cell as one word in memory order, ready for a single store.
    static func words(_ cells: [[UInt8]]) -> [UInt64] {
        cells.map { cell in
            precondition(cell.count == 8, "waveform cells are eight bytes wide")
            return cell.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        }
    }

    /// Geophone cells of a waveform row, in 1/10,000 in/s, each followed by a tab.
    static let waveformGeoCellWords = words(cells((0..<32).map { $0 * 5 - 75 }, decimals: 4, leading: "", trailing: "\t"))
    /// Microphone cells of a waveform row, ending the row.
    static let waveformMicrophoneCellWords = words(cells(Array(0..<56), decimals: 3, leading: "", trailing: "\r\n"))
    /// Geophone peak cells of a histogram row (count × 0.005 in/s).
    static let histogramGeoCells = cells((0..<64).map { $0 * 50 }, decimals: 4, leading: "\t", trailing: "\t")
    /// Microphone peak cells of a histogram row.
    static let histogramMicrophoneCells = cells((0..<64).map { $0 * 50 }, decimals: 3, leading: "\t", trailing: "\t")
    /// Frequency cells: 512 / half-period, `>100` when the half-period is 5 or less.
    static let histogramFrequencyCells: [[UInt8]] = (0..<64).map { halfPeriod in
        halfPeriod <= 5 ? Array(">100".utf8) : Array(String(512 / halfPeriod).utf8)
    }

    /// `scaled / 10^decimals` as text, e.g. `fixed(450, decimals: 4)` is `0.0450`.
    static func fixed(_ scaled: Int, decimals: Int) -> String {
        let sign = scaled < 0 ? "-" : ""
        var digits = String(scaled.magnitude)
        if digits.count <= decimals { digits = String(repeating: "0", count: decimals - digits.count + 1) + digits }
        guard decimals > 0 else { return sign + digits }
        let point = digits.index(digits.endIndex, offsetBy: -decimals)
        return sign + digits[..<point] + "." + digits[point...]
    }

    /// `April 23, 2026`: the long form waveform reports use.
    static func longDate(_ time: SimCivilTime) -> String {
        "\(monthNames[time.month - 1]) \(time.day), \(time.year)"
    }

    /// `2026-04-23`: the ISO form histogram reports use.
    static func isoDate(_ time: SimCivilTime) -> String {
        "\(time.year)-\(twoDigits(time.month))-\(twoDigits(time.day))"
    }

    /// `HH:MM:SS`.
    static func clockTime(_ time: SimCivilTime) -> String {
        "\(twoDigits(time.hour)):\(twoDigits(time.minute)):\(twoDigits(time.second))"
    }

    /// `1 minute`, `5 minutes`, `15 seconds`.
    static func intervalSize(_ interval: Duration) -> String {
        let seconds = Int(interval.wholeNanoseconds / 1_000_000_000)
        if seconds % 60 == 0 {
            let minutes = seconds / 60
            return minutes == 1 ? "1 minute" : "\(minutes) minutes"
        }
        return seconds == 1 ? "1 second" : "\(seconds) seconds"
    }
}
