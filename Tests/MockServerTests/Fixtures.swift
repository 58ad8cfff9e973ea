import ForwarderCore
import ForwarderSimulation
import Foundation

/// Event files, reports and request bodies shared by the mock server tests.
enum Fixtures {
    static let startTime = FileTime(secondsSince1970: 1_780_000_000)

    /// The canonical name of an event of `serial` at a unit-local time.
    static func eventName(serial: Int = 18190, year: Int = 2025, month: Int = 12, day: Int = 9,
                          hour: Int = 11, minute: Int = 0, second: Int = 56,
                          kind: BlastwareEventName.Kind = .waveform) -> String {
        let seconds = CivilDateTime(year: year, month: month, day: day, hour: hour, minute: minute,
                                    second: second).secondsSince1985
        guard let name = BlastwareEventName(serialNumber: serial, secondsSince1985: seconds, kind: kind) else {
            preconditionFailure("fixture event cannot be encoded")
        }
        return name.fileName
    }

    /// Binary contents that start like a Series III file and differ per `seed`.
    static func binary(seed: UInt64, byteCount: Int = 4400) -> Data {
        var bytes: [UInt8] = [0x10, 0x00, 0x01, 0x80, 0x00, 0x00] + Array("Instantel\0".utf8) + [0x07, 0x2C]
        var random = SeededRandom(seed: seed)
        while bytes.count < byteCount { bytes.append(UInt8(truncatingIfNeeded: random.next())) }
        return Data(bytes)
    }

    /// A waveform report with renamed note labels and every special value.
    static let waveformReport = """
        "Serial Number : BE18190"
        "Event Type : Full Waveform"
        "Event Date : December 9, 2025"
        "Event Time : 11:00:56"
        "Trigger : Geo: 0.020 in/s"
        "Sample Rate : 1024 sps"
        "Record Time : 3.0 sec"
        "Pre-trigger Length : 0.250 sec"
        "Units : US"
        "Building: : North Tower"
        "Customer: : Acme Quarry"
        "Operator: : J. Smith"
        "Where: : Loc #1 - 12 Main St"
        "Geo Range : 10.000 in/s"
        "Tran PPV : 0.0450 in/s"
        "Tran ZC Freq : >100 Hz"
        "Tran Time of Peak : 0.412 sec"
        "Tran Peak Acceleration : 0.0133 g"
        "Tran Peak Displacement : 0.00042 in"
        "Vert PPV : <0.005 in/s"
        "Vert ZC Freq : N/A"
        "Long PPV : 0.0612 in/s"
        "Long ZC Freq : 17 Hz"
        "Peak Vector Sum : 0.0612 in/s"
        "Peak Vector Sum Time : 0.412 sec"
        "MicL PSPL : 104.2 dB(L)"
        "MicL ZC Freq : 12 Hz"
        "MicL  Time of Peak : 0.233 sec"
        "Tran Test Freq : 7.5 Hz"
        "Tran Test Ratio : 3.9"
        "Tran Test Results : Passed"
        "Vert Test Results : Failed"
        "MicL Test Amplitude : 533 mv"
        "Battery Level : 6.4 Volts"
        "Calibration Date : March 1, 2026"
        "Monitor Log(s)"
        2025-12-09 08:00:00\t2025-12-09 17:00:00\tMonitoring started by ACH
        2025-12-09 17:05:00\t2025-12-09 23:59:00\tResumed
        "PC SW Version : 10.72"

         Tran\tVert\tLong\tMicL
         0.0000\t0.0050\t0.0000\t0.000
         0.0050\t0.0000\t0.0050\t0.000
         0.0100\t0.0050\t0.0000\t88.0

        """.replacingOccurrences(of: "\n", with: "\r\n")

    /// A histogram report with the default labels, ISO dates and an interval table.
    static let histogramReport = """
        "Serial Number : BE12844"
        "Event Type : Full Histogram"
        "Histogram Start Date : 2025-05-05"
        "Histogram Start Time : 18:18:03"
        "Histogram Stop Date : 2025-05-06"
        "Histogram Stop Time : 18:18:03"
        "Number of Intervals : 1440"
        "Interval Size : 1 minute"
        "Sample Rate : 1024 sps"
        "Units : US"
        "Project: : Bridge Retrofit"
        "Client: : City Works"
        "User Name: : Ops"
        "Seis. Location: : Pier 3"
        "Geo Range : 1.250 in/s"
        "Tran PPV : 0.0150 in/s"
        "Tran Peak Time : 13:02:00"
        "Tran Peak Date : 2025-05-06"
        "Peak Vector Sum : 0.0200 in/s"
        "Peak Vector Sum Date : 2025-05-06"
        "Peak Vector Sum Time : 13:02:00"
        "PC SW Version : 10.72"

         Date\tTime\tTran\tVert\tLong\tMicL
         2025-05-05\t18:19:03\t0.0050\t0.0050\t0.0000\t0.000
         2025-05-05\t18:20:03\t0.0150\t0.0050\t0.0050\t0.000

        """

    /// One part of a hand-built multipart body.
    struct Part {
        var headers: [(String, String)]
        var body: Data

        static func file(_ name: String, _ body: Data, field: String = "files",
                         contentType: String = "application/octet-stream") -> Part {
            Part(headers: [("Content-Disposition", "form-data; name=\"\(field)\"; filename=\"\(name)\""),
                           ("Content-Type", contentType)], body: body)
        }
    }

    static let boundary = "----MockTestBoundary7MA4YWxkTrZu0gW"
    static let contentType = "multipart/form-data; boundary=\(boundary)"

    /// A multipart body with arbitrary parts, for cases the forwarder's encoder never produces.
    static func multipart(_ parts: [Part], closed: Bool = true) -> Data {
        var body = Data()
        for part in parts {
            body.append(Data("--\(boundary)\r\n".utf8))
            for (name, value) in part.headers { body.append(Data("\(name): \(value)\r\n".utf8)) }
            body.append(Data("\r\n".utf8))
            body.append(part.body)
            body.append(Data("\r\n".utf8))
        }
        if closed { body.append(Data("--\(boundary)--\r\n".utf8)) }
        return body
    }

    /// A request carrying `parts` at `startTime + offset`.
    static func request(_ parts: [Part], at offset: Duration = .zero, serialHint: String? = nil) -> MockImportRequest {
        MockImportRequest(receivedAt: startTime + offset, serialHint: serialHint, contentType: contentType,
                          body: multipart(parts))
    }

    /// The production forwarder's request for a binary and optional report.
    static func forwarderRequest(binaryName: String, binary: Data, reportName: String? = nil,
                                 report: String? = nil, serialHint: String? = nil) -> ImportRequest {
        ImportRequest(binary: .init(name: binaryName, contents: binary),
                      report: reportName.map { ImportRequest.File(name: $0, contents: Data((report ?? "").utf8)) },
                      serialHint: serialHint)
    }
}

extension MockExchange {
    /// The 200 reply's rows, or an empty list when the reply is something else.
    var rows: [ImportFileResult] {
        guard case .respond(let response) = reply else { return [] }
        return response.importReply?.results ?? []
    }

    /// The row for `filename`.
    func row(_ filename: String) -> ImportFileResult? { rows.first { $0.filename == filename } }

    /// The HTTP response, when the reply is one.
    var response: MockHTTPResponse? {
        guard case .respond(let response) = reply else { return nil }
        return response
    }

    /// The `detail` of a 4xx JSON body.
    var rejectionDetail: String? {
        guard let body = response?.body,
              let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else { return nil }
        return object["detail"] as? String
    }
}
