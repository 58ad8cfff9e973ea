import ForwarderCore
import Foundation
import ForwarderSimulation
import Testing

@Suite("Bench report")
struct BenchReportTests {
    @Test("Median: odd count takes the middle, even count the mean of the two middle")
    func median() {
        #expect(BenchStatistics.median([.seconds(3), .seconds(1), .seconds(2)]) == .seconds(2))
        #expect(BenchStatistics.median([.seconds(4), .seconds(1), .seconds(2), .seconds(3)]) == .milliseconds(2500))
        #expect(BenchStatistics.median([.milliseconds(7)]) == .milliseconds(7))
        #expect(BenchStatistics.median([]) == nil)
    }

    @Test("Ratio: measured over reference; none for a zero reference")
    func ratio() {
        #expect(BenchStatistics.ratio(3, to: 2) == 1.5)
        #expect(BenchStatistics.ratio(1, to: 0) == nil)
        #expect(BenchStatistics.microsecondsPerEvent(.seconds(1), eventCount: 100_000) == 10)
        #expect(BenchStatistics.microsecondsPerEvent(.seconds(1), eventCount: 0) == nil)
    }

    @Test("Format: grouped thousands, fixed decimals, durations in the largest fitting unit")
    func format() {
        #expect(BenchFormat.grouped(1_234_567) == "1,234,567")
        #expect(BenchFormat.grouped(999) == "999")
        #expect(BenchFormat.grouped(-1000) == "-1,000")
        #expect(BenchFormat.decimal(1.005, places: 1) == "1.0")
        #expect(BenchFormat.decimal(2.05, places: 2) == "2.05")
        #expect(BenchFormat.decimal(12_345.678, places: 1) == "12,345.7")
        #expect(BenchFormat.ratio(2.414) == "2.41×")
        #expect(BenchFormat.ratio(12.34) == "12.3×")
        #expect(BenchFormat.ratio(0.003185) == "0.0032×")
        #expect(BenchFormat.duration(.milliseconds(1930)) == "1.93 s")
        #expect(BenchFormat.duration(.milliseconds(412)) == "412.0 ms")
        #expect(BenchFormat.duration(.microseconds(850)) == "850 µs")
        #expect(BenchFormat.duration(.seconds(75)) == "75.0 s")
    }

    @Test("Targets: ratio limits judge the ratio, value limits the value itself")
    func targets() {
        let slow = BenchRow(measurement: "steady pass", value: .duration(.milliseconds(400)), eventCount: 100_000,
                            reference: "find", referenceValue: .duration(.milliseconds(100)), target: .ratioAtMost(3))
        #expect(slow.ratio == 4)
        #expect(slow.isTargetMet == false)
        let fast = BenchRow(measurement: "seed", value: .duration(.milliseconds(90)),
                            reference: "openssl", referenceValue: .duration(.milliseconds(100)), target: .ratioAtMost(1))
        #expect(fast.isTargetMet == true)
        let rate = BenchRow(measurement: "forward", value: .rate(2400, unit: "events/s"), target: .valueAtLeast(2500))
        #expect(rate.ratio == nil)
        #expect(rate.isTargetMet == false)
        let hashing = BenchRow(measurement: "sha", value: .rate(1.8, unit: "GB/s"), reference: "openssl",
                               referenceValue: .rate(1.9, unit: "GB/s"), target: .ratioAtLeast(0.9))
        #expect(hashing.isTargetMet == true)
        let unjudged = BenchRow(measurement: "rss", value: .byteCount(40_000_000))
        #expect(unjudged.isTargetMet == nil)
        #expect(BenchTarget.ratioAtLeast(0.9).formatted == "≥ 90 %")
        #expect(BenchTarget.valueAtLeast(2500).formatted == "≥ 2,500")
    }

    @Test("Table: text columns align; Markdown has a header, a rule and one line per row")
    func table() {
        let rows = [
            BenchRow(measurement: "steady pass", value: .duration(.milliseconds(300)), eventCount: 100_000,
                     reference: "find", referenceValue: .duration(.milliseconds(100)), target: .ratioAtMost(3)),
            BenchRow(measurement: "forward", value: .rate(3120.4, unit: "events/s"), target: .valueAtLeast(2500)),
        ]
        let text = BenchTable.text(rows).split(separator: "\n").map(String.init)
        #expect(text.count == 3)
        #expect(text[1].hasPrefix("steady pass  300.0 ms        3.00"))
        #expect(text[1].hasSuffix("3.00×  ≤ 3.00×  yes"))
        #expect(text[2].contains("3,120 events/s"))
        #expect(text[0].firstRange(of: "median")?.lowerBound == text[1].firstRange(of: "300.0 ms")?.lowerBound)
        let markdown = BenchTable.markdown(rows).split(separator: "\n").map(String.init)
        #expect(markdown.count == 4)
        #expect(markdown[0] == "| measurement | median | µs/event | reference | ref. median | ratio | target | met |")
        #expect(markdown[1] == "|---|---:|---:|---|---:|---:|---:|---:|")
        #expect(markdown[2] == "| steady pass | 300.0 ms | 3.00 | find | 100.0 ms | 3.00× | ≤ 3.00× | yes |")
        #expect(markdown[3] == "| forward | 3,120 events/s |  |  |  |  | ≥ 2,500 | yes |")
    }

    @Test("openssl speed: the sha256 row's last column, in thousands of bytes per second")
    func opensslSpeed() {
        let output = """
        version: 3.0.19
        The 'numbers' are in 1000s of bytes per second processed.
        type          16384 bytes
        sha256         1741376.47k
        """
        #expect(MachineToolOutput.opensslBytesPerSecond(output) == 1_741_376_470)
        #expect(MachineToolOutput.opensslBytesPerSecond("nothing useful") == nil)
    }

    @Test("Peak RSS probe: the kilobytes of its result line")
    func peakMemoryProbe() {
        #expect(MachineToolOutput.peakResidentKilobytes(fromProbeResult: "peak_rss_kilobytes=128840 exit_status=0\n") == 128_840)
        #expect(MachineToolOutput.peakResidentKilobytes(fromProbeResult: "exit_status=0") == nil)
        #expect(MachineToolOutput.peakResidentKilobytes(fromProbeResult: "peak_rss_kilobytes=lots") == nil)
    }
}

@Suite("Scaling chart")
struct ScalingChartTests {
    let series = [
        ScalingSeries(name: "seed-state", points: [ScalingPoint(eventCount: 10_000, microsecondsPerEvent: 20),
                                                   ScalingPoint(eventCount: 100_000, microsecondsPerEvent: 22)]),
        ScalingSeries(name: "find <floor>", points: [ScalingPoint(eventCount: 10_000, microsecondsPerEvent: 1.5),
                                                     ScalingPoint(eventCount: 100_000, microsecondsPerEvent: 1.4)],
                      isMachineFloor: true),
    ]

    @Test("Table: one row per size, one column per series")
    func table() {
        let lines = ScalingChart.markdownTable(series).split(separator: "\n").map(String.init)
        #expect(lines == [
            "| events | seed-state (µs/event) | find <floor> (µs/event) |",
            "|---:|---:|---:|",
            "| 10,000 | 20.0 | 1.50 |",
            "| 100,000 | 22.0 | 1.40 |",
        ])
    }

    @Test("Size labels: k and M suffixes")
    func sizeLabels() {
        #expect(ScalingChart.sizeLabel(10_000) == "10k")
        #expect(ScalingChart.sizeLabel(300_000) == "300k")
        #expect(ScalingChart.sizeLabel(1_500_000) == "1.5M")
        #expect(ScalingChart.sizeLabel(500) == "500")
    }

    @Test("SVG: a line per series, floors dashed, names escaped, decade and size ticks")
    func svg() {
        let svg = ScalingChart.svg(series, title: "Scaling & more")
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(svg.hasSuffix("</svg>\n"))
        #expect(svg.components(separatedBy: "<polyline").count - 1 == 2)
        #expect(svg.components(separatedBy: "<circle").count - 1 == 4)
        #expect(svg.components(separatedBy: "stroke-dasharray").count - 1 == 2)
        #expect(svg.contains("Scaling &amp; more"))
        #expect(svg.contains("find &lt;floor&gt;"))
        #expect(!svg.contains("find <floor>"))
        for label in [">1<", ">10<", ">100<", ">10k<", ">100k<"] { #expect(svg.contains(label)) }
    }

    @Test("SVG: a slower series is drawn higher (smaller y), a larger size further right")
    func svgGeometry() {
        let svg = ScalingChart.svg(series, title: "t")
        let circles = svg.split(separator: "\n").filter { $0.hasPrefix("<circle") }.map { line -> (Double, Double) in
            func attribute(_ name: String) -> Double {
                let start = line.range(of: name + "=\"")!.upperBound
                return Double(line[start...].prefix { $0 != "\"" })!
            }
            return (attribute("cx"), attribute("cy"))
        }
        #expect(circles.count == 4)
        #expect(circles[1].0 > circles[0].0)
        #expect(circles[0].1 < circles[2].1)
    }

    @Test("SVG: no data still gives a valid document")
    func empty() {
        let svg = ScalingChart.svg([], title: "none")
        #expect(svg.contains("no data"))
        #expect(svg.hasSuffix("</svg>\n"))
    }
}
