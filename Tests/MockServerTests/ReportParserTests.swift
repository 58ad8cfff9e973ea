import ForwarderSimulation
import Foundation
import Testing

@Suite("Report parser")
struct ReportParserTests {
    @Test("Report: waveform fields, special values and the raw text")
    func waveformReport() throws {
        let report = BlastwareReport(parsing: Fixtures.waveformReport)
        #expect(report.serialNumber == "BE18190")
        #expect(report.eventType == "Full Waveform")
        #expect(report.eventDate == "December 9, 2025")
        #expect(report.eventTime == "11:00:56")
        #expect(report.trigger == "Geo: 0.020 in/s")
        #expect(report.sampleRate?.number == 1024)
        #expect(report.sampleRate?.unit == "sps")
        #expect(report.recordTime?.number == 3.0)
        #expect(report.preTriggerLength?.unit == "sec")
        #expect(report.geoRange?.number == 10.0)
        #expect(report.rawText == Fixtures.waveformReport)

        let tran = try #require(report.channels["Tran"])
        #expect(tran.peakParticleVelocity == ReportValue(raw: "0.0450 in/s", bound: .exact, number: 0.045, unit: "in/s"))
        #expect(tran.zeroCrossingFrequency == ReportValue(raw: ">100 Hz", bound: .greaterThan, number: 100, unit: "Hz"))
        #expect(tran.timeOfPeak?.number == 0.412)
        #expect(tran.peakAcceleration?.unit == "g")
        #expect(tran.peakDisplacement?.number == 0.00042)
        #expect(tran.testFrequency?.number == 7.5)
        #expect(tran.testRatio == ReportValue(raw: "3.9", bound: .exact, number: 3.9, unit: nil))
        #expect(tran.testResults == "Passed")

        let vert = try #require(report.channels["Vert"])
        #expect(vert.peakParticleVelocity == ReportValue(raw: "<0.005 in/s", bound: .lessThan, number: 0.005, unit: "in/s"))
        #expect(vert.zeroCrossingFrequency?.bound == .notAvailable)
        #expect(vert.zeroCrossingFrequency?.number == nil)
        #expect(vert.testResults == "Failed")

        let micL = try #require(report.channels["MicL"])
        #expect(micL.peakSoundPressureLevel == ReportValue(raw: "104.2 dB(L)", bound: .exact, number: 104.2, unit: "dB(L)"))
        #expect(micL.timeOfPeak?.number == 0.233, "the doubled space in the MicL key is normalised")
        #expect(micL.testAmplitude?.unit == "mv")

        #expect(report.peakVectorSum?.number == 0.0612)
        #expect(report.peakVectorSumTime?.number == 0.412)
        #expect(report.batteryLevel?.number == 6.4)
        #expect(report.calibrationDate == "March 1, 2026")
        #expect(report.pcSoftwareVersion == "10.72")
        #expect(report.histogram == nil)
        #expect(report.monitorLog == [
            MonitorLogRow(start: "2025-12-09 08:00:00", stop: "2025-12-09 17:00:00", description: "Monitoring started by ACH"),
            MonitorLogRow(start: "2025-12-09 17:05:00", stop: "2025-12-09 23:59:00", description: "Resumed"),
        ])
        #expect(report.tableColumns == ["Tran", "Vert", "Long", "MicL"])
        #expect(report.tableRowCount == 3)
        #expect(report.field("micl time of peak") == "0.233 sec")
    }

    @Test("Report: user notes are read by position whatever their labels")
    func renamedNoteLabels() {
        let report = BlastwareReport(parsing: Fixtures.waveformReport)
        #expect(report.userNotes.map(\.label) == ["Building", "Customer", "Operator", "Where"])
        #expect(report.userNotes.map(\.value) == ["North Tower", "Acme Quarry", "J. Smith", "Loc #1 - 12 Main St"])
        #expect(report.userNotes.map(\.role) == ["project", "client", "userName", "seismographLocation"])
        #expect(report.userNote(at: 3)?.value == "Loc #1 - 12 Main St")
    }

    @Test("Report: histogram variant with ISO dates and interval fields")
    func histogramReport() throws {
        let report = BlastwareReport(parsing: Fixtures.histogramReport)
        let histogram = try #require(report.histogram)
        #expect(histogram.startDate == "2025-05-05")
        #expect(histogram.startTime == "18:18:03")
        #expect(histogram.stopDate == "2025-05-06")
        #expect(histogram.stopTime == "18:18:03")
        #expect(histogram.numberOfIntervals == 1440)
        #expect(histogram.intervalSize == "1 minute")
        #expect(report.channels["Tran"]?.peakTime == "13:02:00")
        #expect(report.channels["Tran"]?.peakDate == "2025-05-06")
        #expect(report.peakVectorSumDate == "2025-05-06")
        #expect(report.userNote(at: 3) == UserNote(position: 3, role: "seismographLocation",
                                                   label: "Seis. Location", value: "Pier 3"))
        #expect(report.geoRange?.number == 1.25)
        #expect(report.tableColumns.first == "Date")
        #expect(report.tableRowCount == 2)
    }

    @Test("Report: split on the first separator only, empty notes, unquoted lines")
    func separatorsAndOddLines() {
        let text = """
            "Units : Metric"
            "Project: : Phase 2 : east wall"
            "Client: :"
            Geo Range : 10.000 in/s
            "Tran PPV : 1.20 mm/s"
            """
        let report = BlastwareReport(parsing: text)
        #expect(report.units == "Metric")
        #expect(report.userNotes.count == 2)
        #expect(report.userNotes.first?.value == "Phase 2 : east wall")
        #expect(report.userNotes.last == UserNote(position: 1, role: "client", label: "Client", value: ""))
        #expect(report.geoRange?.number == 10)
        #expect(report.channels["Tran"]?.peakParticleVelocity?.unit == "mm/s")
    }

    @Test("Report: values that are not numbers stay text")
    func textValues() {
        #expect(ReportValue(parsing: "Passed").bound == .text)
        #expect(ReportValue(parsing: "n/a").bound == .notAvailable)
        #expect(ReportValue(parsing: "> 100 Hz") == ReportValue(raw: "> 100 Hz", bound: .greaterThan, number: 100, unit: "Hz"))
        #expect(ReportValue(parsing: "-0.5 in").number == -0.5)
    }
}
