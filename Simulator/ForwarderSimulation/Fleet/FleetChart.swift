import ForwarderCore
import Foundation

/// Draws a fleet's day as a hand-written SVG: the server's load above, each PC's backlog below.
///
/// Same style as `ScalingChart` (no plotting dependency). The outage and the slow period are
/// shaded so that what the fleet does around them can be read off the chart.
public enum FleetChart {
    public static func svg(_ timeline: FleetTimeline, day: FleetDay, capacityPerSecond: Double, title: String,
                           width: Int = 900, height: Int = 560) -> String {
        let left = 70.0, right = 30.0, top = 44.0, gap = 48.0, bottom = 44.0
        let plotWidth = Double(width) - left - right
        let panelHeight = (Double(height) - top - gap - bottom) / 2
        let steps = timeline.steps
        let count = max(1, steps.count)
        let stepSeconds = timeline.step.secondsValue
        func x(_ step: Double) -> Double { left + step / Double(count) * plotWidth }
        func step(of time: FileTime) -> Double { (time - timeline.start).secondsValue / stepSeconds }
        let format = ScalingChart.format
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" "
            + "viewBox=\"0 0 \(width) \(height)\" font-family=\"sans-serif\" font-size=\"12\">\n"
        svg += "<rect width=\"\(width)\" height=\"\(height)\" fill=\"white\"/>\n"
        svg += "<text x=\"\(format(left))\" y=\"24\" font-size=\"15\" font-weight=\"bold\">\(ScalingChart.escaped(title))</text>\n"

        let loadTop = top, backlogTop = top + panelHeight + gap
        for (range, label, color) in [(day.outage, "outage", "#f4cccc"), (day.slowPeriod, "slow server", "#fff2cc")] {
            let from = x(step(of: range.lowerBound)), to = x(step(of: range.upperBound))
            for panelTop in [loadTop, backlogTop] {
                svg += "<rect x=\"\(format(from))\" y=\"\(format(panelTop))\" width=\"\(format(max(1, to - from)))\" "
                    + "height=\"\(format(panelHeight))\" fill=\"\(color)\"/>\n"
            }
            svg += "<text x=\"\(format(from + 3))\" y=\"\(format(loadTop + 14))\" fill=\"#666\">\(label)</text>\n"
        }

        // Load: requests a second in each step, refusals, and the capacity.
        let peakRate = max(capacityPerSecond * 1.6, steps.map(\.requestsPerSecond).max() ?? 0, 0.1)
        func loadY(_ rate: Double) -> Double { loadTop + (1 - rate / peakRate) * panelHeight }
        svg += axes(left: left, top: loadTop, width: plotWidth, height: panelHeight, maximum: peakRate,
                    label: "requests/s", y: loadY)
        svg += polyline(steps.map { (x(Double($0.index) + 0.5), loadY($0.requestsPerSecond)) }, color: "#1f77b4", width: 1.5)
        svg += polyline(steps.map { (x(Double($0.index) + 0.5), loadY(Double($0.refused) / stepSeconds)) }, color: "#d62728", width: 1.5)
        svg += "<line x1=\"\(format(left))\" y1=\"\(format(loadY(capacityPerSecond)))\" x2=\"\(format(left + plotWidth))\" "
            + "y2=\"\(format(loadY(capacityPerSecond)))\" stroke=\"#2ca02c\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n"
        let legend = [("requests/s", "#1f77b4"), ("refused (429/503)/s", "#d62728"), ("capacity", "#2ca02c")]
        for (index, (name, color)) in legend.enumerated() {
            let legendX = left + plotWidth - 170, legendY = loadTop + 14 + Double(index) * 16
            svg += "<line x1=\"\(format(legendX))\" y1=\"\(format(legendY - 4))\" x2=\"\(format(legendX + 20))\" "
                + "y2=\"\(format(legendY - 4))\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
            svg += "<text x=\"\(format(legendX + 26))\" y=\"\(format(legendY))\">\(name)</text>\n"
        }

        // Backlog: one line per PC.
        let peakBacklog = Double(max(1, timeline.backlogByPC.flatMap { $0 }.max() ?? 1))
        func backlogY(_ events: Double) -> Double { backlogTop + (1 - events / peakBacklog) * panelHeight }
        svg += axes(left: left, top: backlogTop, width: plotWidth, height: panelHeight, maximum: peakBacklog,
                    label: "backlog per PC (events)", y: backlogY)
        for (pc, series) in timeline.backlogByPC.enumerated() {
            let color = ScalingChart.palette[pc % ScalingChart.palette.count]
            // Only the ends of each flat stretch: a PC's backlog is 0 most of the day.
            let points = series.indices.filter { index in
                index == 0 || index == series.count - 1 || series[index] != series[index - 1] || series[index] != series[index + 1]
            }
            svg += polyline(points.map { (x(Double($0) + 1), backlogY(Double(series[$0]))) }, color: color, width: 1, opacity: 0.6)
        }

        // Twelve time marks along the bottom; seconds only when the steps are shorter than a minute.
        let showsSeconds = timeline.step < .seconds(60)
        for mark in 0...12 {
            let position = Double(count) * Double(mark) / 12
            let label = FleetReport.label(timeline.step * position)
            svg += "<text x=\"\(format(x(position)))\" y=\"\(format(backlogTop + panelHeight + 18))\" "
                + "text-anchor=\"middle\">\(showsSeconds ? label : String(label.dropLast(3)))</text>\n"
        }
        svg += "<text x=\"\(format(left + plotWidth / 2))\" y=\"\(format(Double(height) - 8))\" text-anchor=\"middle\">"
            + "time since the day's start (\(showsSeconds ? "hh:mm:ss" : "hh:mm"))</text>\n"
        return svg + "</svg>\n"
    }

    private static func axes(left: Double, top: Double, width: Double, height: Double, maximum: Double, label: String,
                             y: (Double) -> Double) -> String {
        let format = ScalingChart.format
        var svg = "<rect x=\"\(format(left))\" y=\"\(format(top))\" width=\"\(format(width))\" height=\"\(format(height))\" "
            + "fill=\"none\" stroke=\"#888\"/>\n"
        for fraction in [0.0, 0.5, 1.0] {
            let value = maximum * fraction
            svg += "<text x=\"\(format(left - 8))\" y=\"\(format(y(value) + 4))\" text-anchor=\"end\">"
                + "\(BenchFormat.decimal(value, places: value < 10 ? 1 : 0))</text>\n"
        }
        svg += "<text transform=\"translate(18 \(format(top + height / 2))) rotate(-90)\" text-anchor=\"middle\">"
            + "\(label)</text>\n"
        return svg
    }

    private static func polyline(_ points: [(Double, Double)], color: String, width: Double, opacity: Double = 1) -> String {
        guard points.count > 1 else { return "" }
        let coordinates = points.map { "\(ScalingChart.format($0.0)),\(ScalingChart.format($0.1))" }
        return "<polyline points=\"\(coordinates.joined(separator: " "))\" fill=\"none\" stroke=\"\(color)\" "
            + "stroke-width=\"\(ScalingChart.format(width))\" stroke-opacity=\"\(ScalingChart.format(opacity))\"/>\n"
    }
}
