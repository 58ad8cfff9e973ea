import ForwarderCore
import ForwarderSimulation
import Foundation
import Testing

/// The hand-written table in `Tests/Golden/blastware-names.txt`, read for the simulator's side.
///
/// ForwarderCoreTests reads the same table for the forwarder's rules; each side is checked
/// against the data, so the two agree with domain.md rather than with each other.
enum SimGoldenNames {
    struct Event: CustomTestStringConvertible, Sendable {
        var binary, serial, localTime, kind, achReport, manualExport: String
        var testDescription: String { binary }
    }

    struct NamePair: CustomTestStringConvertible, Sendable {
        var binary, name: String
        var testDescription: String { "\(binary) + \(name)" }
    }

    static let lines: [[String]] = {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Golden/blastware-names.txt").path
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            .filter { !$0.isEmpty && !$0[0].hasPrefix("#") }
    }()

    static let events = lines.filter { $0[0] == "event" && $0.count == 7 }
        .map { Event(binary: $0[1], serial: $0[2], localTime: $0[3], kind: $0[4], achReport: $0[5], manualExport: $0[6]) }
    static let pairs = lines.filter { $0[0] == "pairs" && $0.count == 3 }.map { NamePair(binary: $0[1], name: $0[2]) }
    static let notPaired = lines.filter { $0[0] == "not-paired" && $0.count == 3 }.map { NamePair(binary: $0[1], name: $0[2]) }
    static let notEvents = lines.filter { $0[0] == "not-event" && $0.count == 2 }.map { $0[1] }

    /// `2025-12-09T11:00:56` as calendar fields.
    static func civilTime(_ text: String) -> SimCivilTime? {
        let fields = text.split(whereSeparator: { "-T:".contains($0) }).compactMap { Int($0) }
        guard fields.count == 6 else { return nil }
        return SimCivilTime(year: fields[0], month: fields[1], day: fields[2], hour: fields[3], minute: fields[4],
                            second: fields[5])
    }

    static func kindName(_ kind: SimEventName.Kind) -> String {
        switch kind {
        case .waveform: return "waveform"
        case .histogram: return "histogram"
        case .manual: return "manual"
        case .other: return "other"
        }
    }
}

/// The simulator's own name codec, report names and mock pairing against the golden table.
@Suite("Golden names: simulator")
struct SimGoldenNameTests {
    static let receivedAt = FileTime(secondsSince1970: 1_800_000_000)

    /// A mock after one in-process upload of `binary` with `report`.
    static func mockAfterUpload(binary: String, report: String?) -> (MockSFM, MockExchange) {
        let mock = MockSFM()
        let request = ImportRequest(binary: .init(name: binary, contents: Data("binary \(binary)".utf8)),
                                    report: report.map { .init(name: $0, contents: Data("\"Serial Number : x\"\r\n".utf8)) })
        return (mock, mock.handleImport(request, receivedAt: receivedAt))
    }

    @Test("Golden names: the simulator's table is there and holds every kind of line")
    func tableIsRead() {
        #expect(SimGoldenNames.events.count >= 15)
        #expect(SimGoldenNames.pairs.count >= 6)
        #expect(SimGoldenNames.notPaired.count >= 8)
        #expect(SimGoldenNames.notEvents.count >= 10)
    }

    @Test("Golden names: the generator's encoder writes the table's binary for its serial, time and kind",
          arguments: SimGoldenNames.events)
    func encodes(_ event: SimGoldenNames.Event) throws {
        let time = try #require(SimGoldenNames.civilTime(event.localTime))
        let serial = try #require(Int(event.serial.dropFirst(2)))
        let kind: SimEventName.Kind = event.kind == "waveform" ? .waveform : event.kind == "histogram" ? .histogram : .manual
        let name = try #require(SimEventName(serialNumber: serial, secondsSince1985: time.secondsSince1985, kind: kind))
        #expect(name.fileName == event.binary.uppercased())
        #expect(SimCivilTime(secondsSince1985: time.secondsSince1985) == time, "the calendar round-trips")
    }

    @Test("Golden names: a name with a non-ASCII letter does not decode, even where upper-casing makes it fit")
    func nonASCIINameDoesNotDecode() {
        #expect(SimEventName(parsing: "M529LISS.N00W") != nil, "the ASCII spelling decodes")
        #expect(SimEventName(parsing: "M529LI\u{DF}.N00W") == nil, "`ß` upper-cases to `SS`")
    }

    @Test("Golden names: the simulator decodes serial, local time and kind as the table says",
          arguments: SimGoldenNames.events)
    func decodes(_ event: SimGoldenNames.Event) throws {
        let name = try #require(SimEventName(parsing: event.binary))
        #expect(name.unitSerial == event.serial)
        #expect(name.localTime.description == event.localTime)
        #expect(SimGoldenNames.kindName(name.kind) == event.kind)
        #expect(SimReportNames.looksLikeEventBinary(event.binary))
    }

    @Test("Golden names: the simulator's report names are the table's, ACH first", arguments: SimGoldenNames.events)
    func reportNames(_ event: SimGoldenNames.Event) {
        #expect(SimReportNames.candidates(forBinary: event.binary).map(SimReportNames.foldedCase)
            == [event.achReport, event.manualExport].map(SimReportNames.foldedCase))
        for report in [event.achReport, event.manualExport] {
            #expect(SimReportNames.isReport(report))
            #expect(SimReportNames.binary(forReport: report).map(SimReportNames.foldedCase)
                == SimReportNames.foldedCase(event.binary))
        }
    }

    @Test("Golden names: the mock stores the table's serial, time and kind, with a report of either naming",
          arguments: SimGoldenNames.events)
    func mockStores(_ event: SimGoldenNames.Event) throws {
        for report in [event.achReport, event.manualExport] {
            let (mock, exchange) = Self.mockAfterUpload(binary: event.binary, report: report)
            let stored = try #require(mock.events().first)
            #expect(stored.unitSerial == event.serial)
            #expect(stored.eventTime == event.localTime)
            #expect(stored.kind == event.kind)
            #expect(stored.reportName == report)
            #expect(exchange.journalEntry.rows.first { $0.filename == report }?.detail == "report for \(event.binary)")
        }
    }

    @Test("Golden names: the mock pairs a report whatever its letter case", arguments: SimGoldenNames.pairs)
    func mockPairsAnyCase(_ pair: SimGoldenNames.NamePair) throws {
        let (mock, _) = Self.mockAfterUpload(binary: pair.binary, report: pair.name)
        #expect(try #require(mock.events().first).reportName == pair.name)
    }

    @Test("Golden names: the mock never stores a look-alike as the binary's report", arguments: SimGoldenNames.notPaired)
    func mockRejectsLookAlikes(_ pair: SimGoldenNames.NamePair) {
        let (mock, _) = Self.mockAfterUpload(binary: pair.binary, report: pair.name)
        #expect(mock.events().allSatisfy { $0.reportName == nil })
        // By bytes: `==` on strings would equate the Kelvin sign with `K`.
        #expect(SimReportNames.binary(forReport: pair.name).map { Array(SimReportNames.foldedCase($0).utf8) }
            != Array(SimReportNames.foldedCase(pair.binary).utf8))
    }

    @Test("Golden names: the mock stores no event for a file that lives beside events", arguments: SimGoldenNames.notEvents)
    func mockRefusesNonEvents(_ name: String) {
        #expect(!SimReportNames.looksLikeEventBinary(name))
        let (mock, _) = Self.mockAfterUpload(binary: name, report: nil)
        #expect(mock.events().isEmpty)
    }
}
