import Foundation
import ForwarderCore

/// Medians and ratios of repeated timings.
///
/// Wall time on these machines varies by 10–30 % between runs, so the comparison keeps the
/// median of several runs and judges the forwarder by its ratio to the machine's own tools.
public enum BenchStatistics {
    /// The median of `samples`: the middle one, or the mean of the two middle ones; nil when empty.
    public static func median(_ samples: [Duration]) -> Duration? {
        guard !samples.isEmpty else { return nil }
        let sorted = samples.sorted()
        let middle = sorted.count / 2
        if sorted.count % 2 == 1 { return sorted[middle] }
        return (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// `measured / reference`; nil when the reference is zero or negative.
    public static func ratio(_ measured: Double, to reference: Double) -> Double? {
        guard reference > 0, measured.isFinite, reference.isFinite else { return nil }
        return measured / reference
    }

    /// Microseconds per event for a duration spread over `eventCount` events; nil for no events.
    public static func microsecondsPerEvent(_ elapsed: Duration, eventCount: Int) -> Double? {
        guard eventCount > 0 else { return nil }
        return elapsed.secondsValue * 1e6 / Double(eventCount)
    }
}

/// One figure of a comparison: a time, a rate or a size.
public enum BenchValue: Hashable, Sendable {
    case duration(Duration)
    /// Something per second, e.g. `events/s` or `GB/s`.
    case rate(Double, unit: String)
    case byteCount(Int64)

    /// The number that ratios are taken of: seconds, the rate, or bytes.
    public var magnitude: Double {
        switch self {
        case .duration(let elapsed): return elapsed.secondsValue
        case .rate(let value, _): return value
        case .byteCount(let count): return Double(count)
        }
    }

    /// Human-readable: `412 ms`, `1.93 s`, `3,120 events/s`, `1.84 GB/s`, `38.2 MB`.
    public var formatted: String {
        switch self {
        case .duration(let elapsed): return BenchFormat.duration(elapsed)
        case .rate(let value, let unit):
            return (value >= 100 ? BenchFormat.grouped(Int(value.rounded())) : BenchFormat.decimal(value, places: 2)) + " " + unit
        case .byteCount(let count): return BenchFormat.decimal(Double(count) / 1_000_000, places: 1) + " MB"
        }
    }
}

/// What a comparison row is expected to reach.
public enum BenchTarget: Hashable, Sendable {
    /// The ratio to the reference must not exceed this (times: smaller is better).
    case ratioAtMost(Double)
    /// The ratio to the reference must reach this (rates: larger is better).
    case ratioAtLeast(Double)
    /// The value itself must reach this, in the value's own unit.
    case valueAtLeast(Double)
    /// The value itself must not exceed this, in the value's own unit (seconds for times).
    case valueAtMost(Double)

    /// `≤ 3.0×`, `≥ 90 %`, `≥ 2,500`.
    public var formatted: String {
        switch self {
        case .ratioAtMost(let limit): return "≤ \(BenchFormat.ratio(limit))"
        case .ratioAtLeast(let limit):
            return limit < 1 ? "≥ \(Int((limit * 100).rounded())) %" : "≥ \(BenchFormat.ratio(limit))"
        case .valueAtLeast(let limit): return "≥ " + BenchFormat.grouped(Int(limit.rounded()))
        case .valueAtMost(let limit): return "≤ " + BenchFormat.decimal(limit, places: 1)
        }
    }

    /// Whether `value` (and its `ratio`, when the target is a ratio) meets the target.
    public func isMet(value: BenchValue, ratio: Double?) -> Bool? {
        switch self {
        case .ratioAtMost(let limit): return ratio.map { $0 <= limit }
        case .ratioAtLeast(let limit): return ratio.map { $0 >= limit }
        case .valueAtLeast(let limit): return value.magnitude >= limit
        case .valueAtMost(let limit): return value.magnitude <= limit
        }
    }
}

/// One line of the comparison table: the forwarder's figure, the machine's figure, the ratio.
public struct BenchRow: Hashable, Sendable {
    public var measurement: String
    public var value: BenchValue
    /// Events the figure covers, for the µs-per-event column; nil when that makes no sense.
    public var eventCount: Int?
    public var reference: String?
    public var referenceValue: BenchValue?
    public var target: BenchTarget?

    public init(measurement: String, value: BenchValue, eventCount: Int? = nil, reference: String? = nil,
                referenceValue: BenchValue? = nil, target: BenchTarget? = nil) {
        self.measurement = measurement
        self.value = value
        self.eventCount = eventCount
        self.reference = reference
        self.referenceValue = referenceValue
        self.target = target
    }

    /// `value / referenceValue`, or nil without a reference.
    public var ratio: Double? {
        referenceValue.flatMap { BenchStatistics.ratio(value.magnitude, to: $0.magnitude) }
    }

    /// Whether the target is met; nil when there is no target or no ratio to judge.
    public var isTargetMet: Bool? { target?.isMet(value: value, ratio: ratio) }

    var cells: [String] {
        var perEvent = ""
        if case .duration(let elapsed) = value, let eventCount,
           let microseconds = BenchStatistics.microsecondsPerEvent(elapsed, eventCount: eventCount) {
            perEvent = BenchFormat.decimal(microseconds, places: microseconds < 10 ? 2 : 1)
        }
        let verdict: String
        switch isTargetMet {
        case .some(true): verdict = "yes"
        case .some(false): verdict = "NO"
        case .none: verdict = ""
        }
        return [measurement, value.formatted, perEvent, reference ?? "", referenceValue?.formatted ?? "",
                ratio.map(BenchFormat.ratio) ?? "", target?.formatted ?? "", verdict]
    }
}

/// Renders comparison rows as an aligned text table or a Markdown table.
public enum BenchTable {
    public static let headers = ["measurement", "median", "µs/event", "reference", "ref. median", "ratio", "target", "met"]

    /// Columns padded to their widest cell, separated by two spaces, for a terminal.
    public static func text(_ rows: [BenchRow]) -> String {
        let table = [headers] + rows.map(\.cells)
        var widths = Array(repeating: 0, count: headers.count)
        for line in table {
            for (column, cell) in line.enumerated() { widths[column] = max(widths[column], cell.count) }
        }
        return table.map { line in
            line.enumerated().map { column, cell in
                cell + String(repeating: " ", count: widths[column] - cell.count)
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }.joined(separator: "\n") + "\n"
    }

    /// A GitHub Markdown table; `|` inside a cell is escaped.
    public static func markdown(_ rows: [BenchRow]) -> String {
        func line(_ cells: [String]) -> String {
            "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |"
        }
        var lines = [line(headers), "|" + headers.indices.map { $0 == 0 || $0 == 3 ? "---|" : "---:|" }.joined()]
        lines += rows.map { line($0.cells) }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Number formatting without locale surprises, so tests and docs see the same text everywhere.
public enum BenchFormat {
    /// `3` places: `1.500`; rounds half away from zero.
    public static func decimal(_ value: Double, places: Int) -> String {
        guard value.isFinite else { return "n/a" }
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        let whole = Int(scaled / scale)
        let fraction = Int(scaled - Double(whole) * scale)
        var text = (value < 0 && scaled > 0 ? "-" : "") + grouped(whole)
        if places > 0 {
            let digits = String(fraction)
            text += "." + String(repeating: "0", count: places - digits.count) + digits
        }
        return text
    }

    /// Thousands separated by commas: `1,234,567`.
    public static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var result = ""
        for (index, character) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { result += "," }
            result.append(character)
        }
        return (value < 0 ? "-" : "") + result
    }

    /// `2.41×`: two decimals below 10, one above, four below 0.1 (so `0.0032×` does not read as zero).
    public static func ratio(_ value: Double) -> String {
        decimal(value, places: value < 0.1 ? 4 : value < 10 ? 2 : 1) + "×"
    }

    /// `850 µs`, `12.3 ms`, `1.93 s`: three significant digits or so, in the largest fitting unit.
    public static func duration(_ elapsed: Duration) -> String {
        let seconds = elapsed.secondsValue
        if seconds >= 1 { return decimal(seconds, places: seconds < 10 ? 2 : 1) + " s" }
        let milliseconds = seconds * 1e3
        if milliseconds >= 1 { return decimal(milliseconds, places: milliseconds < 10 ? 2 : 1) + " ms" }
        return decimal(seconds * 1e6, places: 0) + " µs"
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}

/// Reads figures out of the machine tools' output.
public enum MachineToolOutput {
    /// Bytes per second from `openssl speed -evp sha256 -bytes N` output: the last column of
    /// the `sha256` row, which openssl prints in thousands of bytes per second (`1741376.47k`).
    public static func opensslBytesPerSecond(_ output: String) -> Double? {
        for line in output.split(whereSeparator: \.isNewline) {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, fields[0].lowercased().hasPrefix("sha256") || fields[0].lowercased() == "sha2-256",
                  var last = fields.last.map(String.init), last.hasSuffix("k") else { continue }
            last.removeLast()
            if let thousands = Double(last) { return thousands * 1000 }
        }
        return nil
    }

    /// The kilobytes in a `peak_rss_kilobytes=N exit_status=S` line written by
    /// `forwarder-sim bench peak-rss`; nil when there is none.
    public static func peakResidentKilobytes(fromProbeResult text: String) -> Int? {
        text.split(whereSeparator: { $0 == " " || $0 == "\n" })
            .first { $0.hasPrefix("peak_rss_kilobytes=") }
            .flatMap { Int($0.dropFirst("peak_rss_kilobytes=".count)) }
    }
}
