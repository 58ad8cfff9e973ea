import ForwarderCore
import ForwarderSimulation
import Foundation
import Testing

@Suite("Mock SFM handler")
struct HandlerTests {
    let binaryName = Fixtures.eventName()
    var achReportName: String { EventFileRules.reportNames(forBinary: binaryName)[0] }
    var plainReportName: String { EventFileRules.reportNames(forBinary: binaryName)[1] }

    @Test("Contract: a binary with its ACH report is inserted, one row per file, and journaled")
    func binaryWithAchReport() throws {
        let mock = MockSFM()
        let binary = Fixtures.binary(seed: 1)
        let exchange = mock.handleImport(Fixtures.forwarderRequest(
            binaryName: binaryName, binary: binary, reportName: achReportName, report: Fixtures.waveformReport,
            serialHint: "BE18190"), receivedAt: Fixtures.startTime)

        let response = try #require(exchange.response)
        #expect(response.status == 200)
        #expect(response.header("content-type") == "application/json")
        let reply = try #require(response.importReply)
        #expect(reply.count == 2)
        #expect(reply.results.map(\.filename) == [binaryName, achReportName])
        let row = try #require(exchange.row(binaryName))
        #expect(row.status == "ok")
        #expect(row.inserted == 1)
        #expect(row.skipped == 0)
        #expect(row.filesize == Int64(binary.count))
        #expect(exchange.row(achReportName)?.status == "ok")

        let event = try #require(mock.event(named: binaryName))
        #expect(event.unitSerial == "BE18190")
        #expect(event.eventTime == "2025-12-09T11:00:56")
        #expect(event.kind == "waveform")
        #expect(event.binaryDigest == EventDigest(of: binary).hex)
        #expect(event.reportName == achReportName)
        #expect(event.report?.channels["Tran"]?.peakParticleVelocity?.number == 0.045)
        #expect(event.report?.rawText == Fixtures.waveformReport)
        #expect(event.serialHint == "BE18190")

        let entry = try #require(mock.journal().last)
        #expect(entry.sequence == 1)
        #expect(entry.outcome == .imported)
        #expect(entry.httpStatus == 200)
        #expect(entry.stored)
        #expect(entry.serialHint == "BE18190")
        #expect(entry.receivedAtTime == Fixtures.startTime)
        #expect(entry.files.map(\.name) == [binaryName, achReportName])
        #expect(entry.files.map(\.role) == ["binary", "report"])
        #expect(entry.files[0].digest == EventDigest(of: binary).hex)
        #expect(entry.files[0].byteCount == binary.count)
        #expect(exchange.storedFiles.map(\.name) == [binaryName, achReportName])
        #expect(mock.stats().inserted == 1)
        #expect(mock.stats().events == 1)
    }

    @Test("Pairing: <binary>.TXT pairs too, and names match without regard to case")
    func plainReportNameAnyCase() throws {
        let mock = MockSFM()
        let lowerBinary = binaryName.lowercased()
        let lowerReport = plainReportName.lowercased()
        let exchange = mock.handleImport(Fixtures.request([
            .file(lowerBinary, Fixtures.binary(seed: 2)),
            .file(lowerReport, Data(Fixtures.histogramReport.utf8), contentType: "text/plain"),
        ]))
        #expect(exchange.row(lowerBinary)?.inserted == 1)
        #expect(exchange.row(lowerReport)?.detail == "report for \(lowerBinary)")
        let event = try #require(mock.event(named: binaryName))
        #expect(event.reportName == lowerReport)
        #expect(event.report?.histogram?.numberOfIntervals == 1440)
    }

    @Test("Pairing: the ACH report wins when both namings arrive")
    func achNameWins() throws {
        let mock = MockSFM()
        let exchange = mock.handleImport(Fixtures.request([
            .file(binaryName, Fixtures.binary(seed: 3)),
            .file(plainReportName, Data(Fixtures.histogramReport.utf8)),
            .file(achReportName, Data(Fixtures.waveformReport.utf8)),
        ]))
        #expect(exchange.rows.count == 3)
        #expect(exchange.row(plainReportName)?.detail?.hasPrefix("not used") == true)
        #expect(mock.event(named: binaryName)?.reportName == achReportName)
    }

    @Test("Upsert: same bytes again are skipped; a re-send with a report updates")
    func resendAndLateReport() throws {
        let mock = MockSFM()
        let binary = Fixtures.binary(seed: 4)
        let alone = Fixtures.forwarderRequest(binaryName: binaryName, binary: binary)
        #expect(mock.handleImport(alone, receivedAt: Fixtures.startTime).row(binaryName)?.inserted == 1)
        #expect(mock.event(named: binaryName)?.hasReport == false)

        let again = mock.handleImport(alone, receivedAt: Fixtures.startTime + .seconds(60))
        #expect(again.row(binaryName) == ImportFileResult(filename: binaryName, status: "ok", filesize: Int64(binary.count),
                                                          inserted: 0, skipped: 1, detail: "already stored"))
        #expect(again.storedFiles.isEmpty)
        #expect(again.journalEntry.stored == false)

        let withReport = Fixtures.forwarderRequest(binaryName: binaryName, binary: binary,
                                                   reportName: achReportName, report: Fixtures.waveformReport)
        let updated = mock.handleImport(withReport, receivedAt: Fixtures.startTime + .seconds(120))
        let row = try #require(updated.row(binaryName))
        #expect(row.status == "ok")
        #expect(row.inserted == 0)
        #expect(row.skipped == 0)
        #expect(row.detail == "updated: report attached")
        let event = try #require(mock.event(named: binaryName))
        #expect(event.hasReport)
        #expect(event.uploadCount == 3)
        #expect(event.updateCount == 1)

        let stats = mock.stats()
        #expect(stats.inserted == 1)
        #expect(stats.skipped == 1)
        #expect(stats.updated == 1)
        #expect(stats.duplicates == 2)
        #expect(stats.events == 1)
        #expect(stats.requests == 3)
    }

    @Test("Upsert: a changed report replaces the stored one; the same report again is skipped")
    func reportReplaced() throws {
        let mock = MockSFM(configuration: .init(retainsReportText: false))
        let binary = Fixtures.binary(seed: 14)
        let first = Fixtures.forwarderRequest(binaryName: binaryName, binary: binary, reportName: achReportName,
                                              report: Fixtures.waveformReport)
        _ = mock.handleImport(first, receivedAt: Fixtures.startTime)
        #expect(mock.handleImport(first, receivedAt: Fixtures.startTime).row(binaryName)?.skipped == 1)
        let changed = Fixtures.forwarderRequest(binaryName: binaryName, binary: binary, reportName: achReportName,
                                                report: Fixtures.histogramReport)
        #expect(mock.handleImport(changed, receivedAt: Fixtures.startTime).row(binaryName)?.detail == "updated: report replaced")
        let event = try #require(mock.event(named: binaryName))
        #expect(event.reportDigest == EventDigest(of: Data(Fixtures.histogramReport.utf8)).hex)
        #expect(event.report?.histogram?.numberOfIntervals == 1440)
        #expect(event.report?.rawText == "", "raw text is dropped when the configuration says so")
    }

    @Test("Upsert: new bytes for the same serial and time replace the stored binary")
    func newContentSameKey() throws {
        let mock = MockSFM()
        _ = mock.handleImport(Fixtures.request([.file(binaryName, Fixtures.binary(seed: 5))]))
        let replacement = Fixtures.binary(seed: 6)
        let exchange = mock.handleImport(Fixtures.request([.file(binaryName.lowercased(), replacement)]))
        #expect(exchange.row(binaryName.lowercased())?.detail?.hasPrefix("updated: new content") == true)
        #expect(mock.eventCount == 1)
        #expect(mock.event(named: binaryName)?.binaryDigest == EventDigest(of: replacement).hex)
        #expect(mock.stats().updated == 1)
    }

    @Test("Upsert: identical bytes under another name are a separate event, noted")
    func sameBytesOtherName() {
        let mock = MockSFM()
        let bytes = Fixtures.binary(seed: 7)
        let otherName = Fixtures.eventName(second: 57)
        _ = mock.handleImport(Fixtures.request([.file(binaryName, bytes)]))
        let exchange = mock.handleImport(Fixtures.request([.file(otherName, bytes)]))
        #expect(exchange.row(otherName)?.inserted == 1)
        #expect(exchange.row(otherName)?.detail?.contains("same content as \(binaryName)") == true)
        #expect(mock.eventCount == 2)
        #expect(mock.stats().sameContentOtherKey == 1)
    }

    @Test("Pairing: a report sent alone attaches to its stored event, or is an error row")
    func reportAlone() throws {
        let mock = MockSFM()
        _ = mock.handleImport(Fixtures.request([.file(binaryName, Fixtures.binary(seed: 8))]))
        let attached = mock.handleImport(Fixtures.request([.file(achReportName, Data(Fixtures.waveformReport.utf8))]))
        #expect(attached.row(achReportName)?.status == "ok")
        #expect(attached.row(achReportName)?.detail == "updated: report attached to \(binaryName)")
        #expect(mock.event(named: binaryName)?.hasReport == true)

        let orphanName = EventFileRules.reportNames(forBinary: Fixtures.eventName(serial: 11529))[0]
        let orphan = mock.handleImport(Fixtures.request([.file(orphanName, Data("x".utf8))]))
        #expect(orphan.response?.status == 200)
        #expect(orphan.row(orphanName)?.status == "error")
        #expect(mock.stats().errorRows == 1)
    }

    @Test("Contract: an event-shaped name that does not decode gets an error row")
    func undecodableName() {
        let mock = MockSFM()
        let exchange = mock.handleImport(Fixtures.request([.file("A123LD5Q.LK0W", Fixtures.binary(seed: 9))]))
        #expect(exchange.response?.status == 200)
        #expect(exchange.row("A123LD5Q.LK0W")?.status == "error")
        #expect(mock.eventCount == 0)
    }

    @Test("Contract: several events in one request each get their own row")
    func severalEvents() {
        let mock = MockSFM()
        let names = (0..<3).map { Fixtures.eventName(minute: $0) }
        let exchange = mock.handleImport(Fixtures.request(names.enumerated().map { index, name in
            .file(name, Fixtures.binary(seed: 100 + UInt64(index)))
        }))
        #expect(exchange.rows.map(\.filename) == names)
        #expect(exchange.rows.allSatisfy { $0.inserted == 1 })
        #expect(mock.eventCount == 3)
        #expect(mock.events().map(\.binaryName) == names, "events are listed by serial and time")
    }

    /// A body and content type that must be refused with `status`.
    struct BadInput: CustomTestStringConvertible, Sendable {
        var label: String
        var contentType: String?
        var body: Data
        var status: Int
        var detail: String

        var testDescription: String { label }
    }

    static let badInputs: [BadInput] = {
        let binary = Fixtures.binary(seed: 10)
        let name = Fixtures.eventName()
        return [
            BadInput(label: "JSON body", contentType: "application/json", body: Data("{}".utf8), status: 415,
                     detail: "is not multipart/form-data"),
            BadInput(label: "no content type", contentType: nil, body: Fixtures.multipart([.file(name, binary)]),
                     status: 415, detail: "missing Content-Type"),
            BadInput(label: "no boundary", contentType: "multipart/form-data", body: Data(), status: 400,
                     detail: "without a boundary"),
            BadInput(label: "not multipart at all", contentType: Fixtures.contentType, body: Data("hello".utf8),
                     status: 400, detail: "no files"),
            BadInput(label: "truncated body", contentType: Fixtures.contentType,
                     body: Fixtures.multipart([.file(name, binary)], closed: false), status: 400,
                     detail: "ends inside a part"),
            BadInput(label: "part without filename", contentType: Fixtures.contentType,
                     body: Fixtures.multipart([Fixtures.Part(headers: [("Content-Disposition", "form-data; name=\"files\"")],
                                                             body: binary)]),
                     status: 400, detail: "has no filename"),
            BadInput(label: "part without disposition", contentType: Fixtures.contentType,
                     body: Fixtures.multipart([Fixtures.Part(headers: [("Content-Type", "text/plain")], body: binary)]),
                     status: 400, detail: "no Content-Disposition"),
            BadInput(label: "other field", contentType: Fixtures.contentType,
                     body: Fixtures.multipart([.file(name, binary, field: "file")]), status: 400,
                     detail: "unexpected form field"),
            BadInput(label: "parent path", contentType: Fixtures.contentType,
                     body: Fixtures.multipart([.file("../\(name)", binary)]), status: 400,
                     detail: "not a plain file name"),
            BadInput(label: "absolute path", contentType: Fixtures.contentType,
                     body: Fixtures.multipart([.file("/tmp/\(name)", binary)]), status: 400,
                     detail: "not a plain file name"),
            BadInput(label: "backslash path", contentType: Fixtures.contentType,
                     body: Fixtures.multipart([.file("C:\\\\ACH\\\\\(name)", binary)]), status: 400,
                     detail: "not a plain file name"),
            BadInput(label: "neither event nor report", contentType: Fixtures.contentType,
                     body: Fixtures.multipart([.file(name, binary), .file("BE18190.MLG", binary)]), status: 400,
                     detail: "neither a Blastware event binary nor a report"),
            // Found by `scripts/fuzz MockMultipart`: multipart-kit stopped the process on such a name.
            BadInput(label: "header name not ASCII", contentType: Fixtures.contentType,
                     body: Fixtures.multipart([Fixtures.Part(headers: [("Content-Dispositi\u{F3}n", "form-data; name=\"files\"")],
                                                             body: binary)]),
                     status: 400, detail: "headers are not ASCII"),
            BadInput(label: "header name of a later part not ASCII", contentType: Fixtures.contentType,
                     body: Fixtures.multipart([.file(name, binary),
                                               Fixtures.Part(headers: [("X-\u{FF}", "1")], body: binary)]),
                     status: 400, detail: "headers are not ASCII"),
            BadInput(label: "excluded extension", contentType: Fixtures.contentType,
                     body: Fixtures.multipart([.file("M529LK44.PDF", binary)]), status: 400,
                     detail: "neither a Blastware event binary nor a report"),
        ]
    }()

    @Test("Bad input: refused with 4xx and a JSON detail, nothing stored", arguments: badInputs)
    func badInput(_ input: BadInput) throws {
        let mock = MockSFM()
        let exchange = mock.handleImport(MockImportRequest(receivedAt: Fixtures.startTime, serialHint: nil,
                                                           contentType: input.contentType, body: input.body))
        #expect(exchange.response?.status == input.status)
        let detail = try #require(exchange.rejectionDetail)
        #expect(detail.contains(input.detail), "\(detail)")
        #expect(mock.eventCount == 0)
        #expect(exchange.storedFiles.isEmpty)
        #expect(exchange.journalEntry.outcome == .rejected)
        #expect(exchange.journalEntry.detail == detail)
        #expect(mock.stats().rejectedRequests == 1)
        #expect(mock.journal().count == 1)
    }

    @Test("Bad input: a body over the limit is refused with 413")
    func oversizedBody() {
        let mock = MockSFM(configuration: .init(maximumBodyByteCount: 1000))
        let exchange = mock.handleImport(Fixtures.request([.file(binaryName, Fixtures.binary(seed: 11, byteCount: 2000))]))
        #expect(exchange.response?.status == 413)
        #expect(exchange.rejectionDetail?.contains("exceeds the limit of 1000 bytes") == true)
        #expect(mock.eventCount == 0)

        let declared = mock.rejectOversizedBody(receivedAt: Fixtures.startTime, serialHint: nil,
                                                contentType: Fixtures.contentType, byteCount: 5000)
        #expect(declared.response?.status == 413)
        #expect(declared.journalEntry.bodyByteCount == 5000)
        #expect(mock.stats().rejectedRequests == 2)
    }

    @Test("Inspection: the journal pages by sequence and keeps only its capacity")
    func journalPaging() {
        let mock = MockSFM(configuration: .init(journalCapacity: 3))
        for minute in 0..<5 {
            _ = mock.handleImport(Fixtures.request([.file(Fixtures.eventName(minute: minute),
                                                          Fixtures.binary(seed: 200 + UInt64(minute)))]))
        }
        #expect(mock.journal().map(\.sequence) == [3, 4, 5])
        #expect(mock.journal(after: 3).map(\.sequence) == [4, 5])
        #expect(mock.journal(after: 0, limit: 1).map(\.sequence) == [3])
        #expect(mock.journal(after: 5).isEmpty)
        #expect(mock.stats().requests == 5)
    }

    @Test("Inspection: reset empties store, journal and counters")
    func reset() {
        let mock = MockSFM()
        _ = mock.handleImport(Fixtures.request([.file(binaryName, Fixtures.binary(seed: 12))]))
        mock.reset(at: Fixtures.startTime)
        #expect(mock.eventCount == 0)
        #expect(mock.journal().isEmpty)
        #expect(mock.stats() == MockStats())
        let again = mock.handleImport(Fixtures.request([.file(binaryName, Fixtures.binary(seed: 12))]))
        #expect(again.row(binaryName)?.inserted == 1)
        #expect(again.journalEntry.sequence == 1)
    }

    @Test("Contract: the reply the mock sends is what the production classifier accepts")
    func classifierAcceptsReply() throws {
        let mock = MockSFM()
        let exchange = mock.handleImport(Fixtures.forwarderRequest(binaryName: binaryName, binary: Fixtures.binary(seed: 13)),
                                         receivedAt: Fixtures.startTime)
        let response = try #require(exchange.response)
        let outcome = ImportReplyClassifier.classify(status: response.status, retryAfterHeader: nil, body: response.body,
                                                     binaryName: binaryName)
        #expect(outcome.isAccepted)
    }
}
