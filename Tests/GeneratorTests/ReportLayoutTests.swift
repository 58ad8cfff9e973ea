import Foundation
import ForwarderCore
import ForwarderSimulation
import Testing

@Suite struct ReportLayoutTests {
    typealias Support = GeneratorTestSupport

    static let plan = FolderPlanner.plan(GeneratorTestSupport.options(seed: 41, events: 1500))

    static let monthNames = ["January", "February", "March", "April", "May", "June", "July", "August",
                             "September", "October", "November", "December"]

    /// Labels of the quoted lines, in order, up to and including `PC SW Version`.
    func metadataLabels(_ lines: [String]) -> [String] { lines.compactMap(Support.label(of:)) }

    func value(_ label: String, in lines: [String]) -> String? {
        lines.first { Support.label(of: $0) == label }.flatMap(Support.value(of:))
    }

    func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

    @Test("Reports: waveform layout has its labels in order, values from the event, notes by position")
    func waveformLayout() throws {
        let events = Self.plan.events.filter { $0.recording.mode == .waveform && $0.reportNaming != .none }
        #expect(events.count > 100)
        for event in events.prefix(200) {
            let unit = Self.plan.unit(of: event)
            let lines = Support.lines(of: Self.plan.reportContents(of: event))
            let labels = metadataLabels(lines)
            #expect(Array(labels.prefix(9)) == ["Serial Number", "Event Type", "Event Date", "Event Time", "Trigger",
                                                "Sample Rate", "Record Time", "Pre-trigger Length", "Units"])
            let unitsIndex = try #require(labels.firstIndex(of: "Units"))
            let geoRangeIndex = try #require(labels.firstIndex(of: "Geo Range"))
            #expect(geoRangeIndex - unitsIndex == 5)
            #expect(Array(labels[(unitsIndex + 1)..<geoRangeIndex]) == unit.noteLabels(for: .waveform))
            #expect(labels.contains("MicL  Time of Peak"))
            #expect(labels.contains("Peak Vector Sum"))
            for channel in ["Tran", "Vert", "Long"] {
                for field in ["PPV", "ZC Freq", "Time of Peak", "Peak Acceleration", "Peak Displacement",
                              "Test Freq", "Test Ratio", "Test Results"] {
                    #expect(labels.contains("\(channel) \(field)"), "\(channel) \(field)")
                }
            }
            #expect(labels.last == "PC SW Version")

            let time = event.name.localTime
            #expect(value("Serial Number", in: lines) == unit.unitSerial)
            #expect(value("Event Type", in: lines) == "Full Waveform")
            #expect(value("Event Date", in: lines) == "\(Self.monthNames[time.month - 1]) \(time.day), \(time.year)")
            #expect(value("Event Time", in: lines) == "\(twoDigits(time.hour)):\(twoDigits(time.minute)):\(twoDigits(time.second))")
            #expect(value("Sample Rate", in: lines) == "\(event.recording.samplesPerSecond) sps")

            let monitorLogIndex = try #require(lines.firstIndex(of: "\"Monitor Log(s)\""))
            let versionIndex = try #require(lines.firstIndex { Support.label(of: $0) == "PC SW Version" })
            #expect(versionIndex > monitorLogIndex + 1)
            for row in lines[(monitorLogIndex + 1)..<versionIndex] {
                #expect(row.split(separator: "\t").count == 3, "\(row)")
            }
            if event.includesSampleTable {
                #expect(lines[versionIndex + 1] == "")
                #expect(lines[versionIndex + 2] == " Tran\tVert\tLong\tMicL")
                let rows = lines[(versionIndex + 3)...].filter { !$0.isEmpty }
                #expect(rows.count == event.recording.samplesPerChannel)
            } else {
                #expect(lines[(versionIndex + 1)...].allSatisfy { $0.isEmpty })
            }
        }
    }

    @Test("Reports: histogram layout uses ISO dates, interval fields and Seis. Location:")
    func histogramLayout() throws {
        let events = Self.plan.events.filter { $0.recording.mode == .histogram && $0.reportNaming != .none }
        #expect(!events.isEmpty)
        var sawDefaultLabels = false
        var sawTable = false
        for event in events {
            let unit = Self.plan.unit(of: event)
            let lines = Support.lines(of: Self.plan.reportContents(of: event))
            let labels = metadataLabels(lines)
            #expect(Array(labels.prefix(10)) == ["Serial Number", "Event Type", "Histogram Start Date", "Histogram Start Time",
                                                 "Histogram Stop Date", "Histogram Stop Time", "Number of Intervals",
                                                 "Interval Size", "Sample Rate", "Units"])
            let unitsIndex = try #require(labels.firstIndex(of: "Units"))
            #expect(labels[unitsIndex + 5] == "Geo Range")
            let notes = Array(labels[(unitsIndex + 1)...(unitsIndex + 4)])
            #expect(notes == unit.noteLabels(for: .histogram))
            if unit.renamedNoteLabels == nil {
                sawDefaultLabels = true
                #expect(notes.last == "Seis. Location:")
            }
            let start = event.name.localTime
            #expect(value("Histogram Start Date", in: lines) == "\(start.year)-\(twoDigits(start.month))-\(twoDigits(start.day))")
            #expect(value("Number of Intervals", in: lines) == "\(event.recording.histogramIntervalCount)")
            #expect(["1 minute", "5 minutes", "15 seconds"].contains(value("Interval Size", in: lines) ?? ""))
            #expect(value("Event Type", in: lines) == "Full Histogram")
            #expect(labels.contains("Peak Vector Sum Date"))
            #expect(labels.contains("Tran Peak Date"))
            #expect(labels.last == "PC SW Version")
            #expect(value("Calibration Date", in: lines)?.wholeMatch(of: /\d{4}-\d\d-\d\d/) != nil)
            if event.includesSampleTable {
                sawTable = true
                let versionIndex = try #require(lines.firstIndex { Support.label(of: $0) == "PC SW Version" })
                let rows = lines[(versionIndex + 3)...].filter { !$0.isEmpty }
                #expect(rows.count == event.recording.histogramIntervalCount)
                let intervalSeconds = Int(event.recording.histogramInterval.wholeNanoseconds / 1_000_000_000)
                for (index, row) in rows.enumerated() where index % 97 == 0 || index == rows.count - 1 {
                    let moment = CivilDateTime(secondsSince1985: event.name.secondsSince1985 + index * intervalSeconds)
                    let expected = " \(moment.year)-\(twoDigits(moment.month))-\(twoDigits(moment.day))\t"
                        + "\(twoDigits(moment.hour)):\(twoDigits(moment.minute)):\(twoDigits(moment.second))\t"
                    #expect(row.hasPrefix(expected), "\(row)")
                    #expect(row.split(separator: "\t").count == 10)
                }
            }
        }
        #expect(sawDefaultLabels)
        #expect(sawTable)
    }

    @Test("Reports: renamed note labels, >100 Hz and N/A occur; labels split at the first ' : '")
    func variety() throws {
        var sawRenamed = false
        var zeroCrossingValues = Set<String>()
        for event in Self.plan.events.prefix(600) where event.reportNaming != .none {
            let lines = Support.lines(of: Self.plan.reportContents(of: event))
            if let renamed = Self.plan.unit(of: event).renamedNoteLabels {
                sawRenamed = true
                #expect(renamed.allSatisfy { label in lines.contains { $0.hasPrefix("\"\(label) : ") } })
            }
            for line in lines where Support.label(of: line)?.hasSuffix("ZC Freq") == true {
                zeroCrossingValues.insert(Support.value(of: line) ?? "")
            }
        }
        #expect(sawRenamed)
        #expect(zeroCrossingValues.contains(">100 Hz"))
        #expect(zeroCrossingValues.contains("N/A"))
        #expect(Support.label(of: "\"Project: : Quarry\"") == "Project:")
    }

    @Test("Reports: the mean report is 15 KB or less and tables make the big ones")
    func meanSize() {
        let sizes = Self.plan.events.filter { $0.reportNaming != .none }.map { Self.plan.reportContents(of: $0).count }
        let mean = Double(sizes.reduce(0, +)) / Double(sizes.count)
        #expect(mean > 2_000)
        #expect(mean <= 15_000)
        let withTable = Self.plan.events.filter { $0.reportNaming != .none && $0.includesSampleTable }
        let tableShare = Double(withTable.count) / Double(sizes.count)
        #expect(abs(tableShare - FolderProfile.mixed.sampleTableShare) < 0.03)
    }
}
