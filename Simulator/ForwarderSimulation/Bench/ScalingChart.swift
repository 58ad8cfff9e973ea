import Foundation

/// One measured size of a scaling run.
public struct ScalingPoint: Hashable, Sendable {
    public var eventCount: Int
    public var microsecondsPerEvent: Double

    public init(eventCount: Int, microsecondsPerEvent: Double) {
        self.eventCount = eventCount
        self.microsecondsPerEvent = microsecondsPerEvent
    }
}

/// One line of the scaling chart: a forwarder operation or a machine floor.
public struct ScalingSeries: Hashable, Sendable {
    public var name: String
    public var points: [ScalingPoint]
    /// Machine floors (`find`, `openssl`) are drawn dashed, the forwarder's own lines solid.
    public var isMachineFloor: Bool

    public init(name: String, points: [ScalingPoint], isMachineFloor: Bool = false) {
        self.name = name
        self.points = points
        self.isMachineFloor = isMachineFloor
    }
}

/// Renders a scaling run as a Markdown table and as a hand-written SVG line chart.
///
/// Time per event against the number of events, both axes logarithmic: a linear operation
/// is a flat line, a quadratic one climbs a decade per decade. No plotting dependency, so the
/// chart can be regenerated anywhere the simulator builds.
public enum ScalingChart {
    /// A table with one row per size and one column per series, in µs per event.
    public static func markdownTable(_ series: [ScalingSeries]) -> String {
        let sizes = eventCounts(series)
        var lines = ["| events | " + series.map { "\($0.name) (µs/event)" }.joined(separator: " | ") + " |",
                     "|---:|" + String(repeating: "---:|", count: series.count)]
        for size in sizes {
            let cells = series.map { line -> String in
                guard let point = line.points.first(where: { $0.eventCount == size }) else { return "" }
                return BenchFormat.decimal(point.microsecondsPerEvent, places: point.microsecondsPerEvent < 10 ? 2 : 1)
            }
            lines.append("| \(BenchFormat.grouped(size)) | " + cells.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Every size that any series measured, ascending.
    public static func eventCounts(_ series: [ScalingSeries]) -> [Int] {
        Array(Set(series.flatMap { $0.points.map(\.eventCount) })).sorted()
    }

    /// `10k`, `300k`, `1.5M`, `500`.
    public static func sizeLabel(_ eventCount: Int) -> String {
        if eventCount >= 1_000_000 {
            let millions = Double(eventCount) / 1e6
            return (millions == millions.rounded() ? String(Int(millions)) : BenchFormat.decimal(millions, places: 1)) + "M"
        }
        if eventCount >= 1000 {
            let thousands = Double(eventCount) / 1e3
            return (thousands == thousands.rounded() ? String(Int(thousands)) : BenchFormat.decimal(thousands, places: 1)) + "k"
        }
        return String(eventCount)
    }

    /// The chart as a standalone SVG document.
    public static func svg(_ series: [ScalingSeries], title: String, width: Int = 760, height: Int = 440) -> String {
        let left = 70.0, right = 190.0, top = 44.0, bottom = 52.0
        let plotWidth = Double(width) - left - right
        let plotHeight = Double(height) - top - bottom
        let sizes = eventCounts(series)
        let values = series.flatMap { $0.points.map(\.microsecondsPerEvent) }.filter { $0 > 0 }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" "
            + "viewBox=\"0 0 \(width) \(height)\" font-family=\"sans-serif\" font-size=\"12\">\n"
        svg += "<rect width=\"\(width)\" height=\"\(height)\" fill=\"white\"/>\n"
        svg += "<text x=\"\(format(left))\" y=\"24\" font-size=\"15\" font-weight=\"bold\">\(escaped(title))</text>\n"
        guard let smallestSize = sizes.first, let largestSize = sizes.last,
              let smallestValue = values.min(), let largestValue = values.max() else {
            return svg + "<text x=\"\(format(left))\" y=\"\(format(top + 20))\">no data</text>\n</svg>\n"
        }
        var xLow = log10(Double(smallestSize)), xHigh = log10(Double(largestSize))
        if xHigh - xLow < 0.2 {
            xLow -= 0.5
            xHigh += 0.5
        } else {
            let padding = (xHigh - xLow) * 0.06
            xLow -= padding
            xHigh += padding
        }
        let yLow = floor(log10(smallestValue)), yHigh = max(yLow + 1, ceil(log10(largestValue)))
        func x(_ eventCount: Int) -> Double { left + (log10(Double(eventCount)) - xLow) / (xHigh - xLow) * plotWidth }
        func y(_ microseconds: Double) -> Double { top + (yHigh - log10(microseconds)) / (yHigh - yLow) * plotHeight }

        svg += "<rect x=\"\(format(left))\" y=\"\(format(top))\" width=\"\(format(plotWidth))\" "
            + "height=\"\(format(plotHeight))\" fill=\"none\" stroke=\"#888\"/>\n"
        var decade = yLow
        while decade <= yHigh {
            let value = pow(10, decade)
            let position = y(value)
            svg += "<line x1=\"\(format(left))\" y1=\"\(format(position))\" x2=\"\(format(left + plotWidth))\" "
                + "y2=\"\(format(position))\" stroke=\"#ddd\"/>\n"
            svg += "<text x=\"\(format(left - 8))\" y=\"\(format(position + 4))\" text-anchor=\"end\">"
                + "\(decadeLabel(decade))</text>\n"
            decade += 1
        }
        for size in sizes {
            let position = x(size)
            svg += "<line x1=\"\(format(position))\" y1=\"\(format(top))\" x2=\"\(format(position))\" "
                + "y2=\"\(format(top + plotHeight))\" stroke=\"#eee\"/>\n"
            svg += "<text x=\"\(format(position))\" y=\"\(format(top + plotHeight + 18))\" text-anchor=\"middle\">"
                + "\(sizeLabel(size))</text>\n"
        }
        svg += "<text x=\"\(format(left + plotWidth / 2))\" y=\"\(format(Double(height) - 10))\" "
            + "text-anchor=\"middle\">events in the folder (log scale)</text>\n"
        svg += "<text transform=\"translate(18 \(format(top + plotHeight / 2))) rotate(-90)\" "
            + "text-anchor=\"middle\">µs per event (log scale)</text>\n"

        for (index, line) in series.enumerated() {
            let color = palette[index % palette.count]
            let dash = line.isMachineFloor ? " stroke-dasharray=\"6 4\"" : ""
            let points = line.points.filter { $0.microsecondsPerEvent > 0 }.sorted { $0.eventCount < $1.eventCount }
            if points.count > 1 {
                let coordinates = points.map { "\(format(x($0.eventCount))),\(format(y($0.microsecondsPerEvent)))" }
                svg += "<polyline points=\"\(coordinates.joined(separator: " "))\" fill=\"none\" "
                    + "stroke=\"\(color)\" stroke-width=\"2\"\(dash)/>\n"
            }
            for point in points {
                svg += "<circle cx=\"\(format(x(point.eventCount)))\" cy=\"\(format(y(point.microsecondsPerEvent)))\" "
                    + "r=\"3\" fill=\"\(color)\"/>\n"
            }
            let legendY = top + 10 + Double(index) * 20
            let legendX = left + plotWidth + 16
            svg += "<line x1=\"\(format(legendX))\" y1=\"\(format(legendY))\" x2=\"\(format(legendX + 24))\" "
                + "y2=\"\(format(legendY))\" stroke=\"\(color)\" stroke-width=\"2\"\(dash)/>\n"
            svg += "<text x=\"\(format(legendX + 30))\" y=\"\(format(legendY + 4))\">\(escaped(line.name))</text>\n"
        }
        return svg + "</svg>\n"
    }

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"]

    static func decadeLabel(_ decade: Double) -> String {
        let exponent = Int(decade)
        if exponent >= 0 { return BenchFormat.grouped(Int(pow(10, Double(exponent)))) }
        return "0." + String(repeating: "0", count: -exponent - 1) + "1"
    }

    static func format(_ coordinate: Double) -> String { BenchFormat.decimal(coordinate, places: 1).replacingOccurrences(of: ",", with: "") }

    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
