import ForwarderCore
import Foundation
import Testing

@Suite("Import contract")
struct ImportContractTests {
    let binary = ImportRequest.File(name: "N844L20G.630H", contents: Data((0..<2000).map { UInt8($0 % 251) }))
    let report = ImportRequest.File(name: "N844L20G_630H_ASCII.TXT", contents: Data("\"Serial Number : BE12844\"\r\n".utf8))

    @Test("Upload: the body carries the binary, then the report, in field `files`")
    func multipartLayout() throws {
        let body = MultipartFormBody(request: ImportRequest(binary: binary, report: report))
        let text = String(decoding: body.bytes, as: UTF8.self)
        let binaryHeader = "Content-Disposition: form-data; name=\"files\"; filename=\"N844L20G.630H\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        let reportHeader = "Content-Disposition: form-data; name=\"files\"; filename=\"N844L20G_630H_ASCII.TXT\"\r\nContent-Type: text/plain\r\n\r\n"
        let binaryRange = try #require(text.range(of: binaryHeader))
        let reportRange = try #require(text.range(of: reportHeader))
        #expect(binaryRange.upperBound < reportRange.lowerBound)
        #expect(body.contentType == "multipart/form-data; boundary=\(body.boundary)")
        #expect(body.bytes.starts(with: Data("--\(body.boundary)\r\n".utf8)))
        #expect(body.bytes.suffix(body.boundary.utf8.count + 6) == Data("--\(body.boundary)--\r\n".utf8))
        let binaryStart = body.bytes.range(of: Data(binaryHeader.utf8))!.upperBound
        #expect(body.bytes[binaryStart..<(binaryStart + binary.contents.count)] == binary.contents)
    }

    @Test("Upload: the same request encodes to the same bytes, and a lone binary has one part")
    func deterministic() {
        let first = MultipartFormBody(request: ImportRequest(binary: binary, report: nil))
        let second = MultipartFormBody(request: ImportRequest(binary: binary, report: nil))
        #expect(first.bytes == second.bytes)
        #expect(String(decoding: first.bytes, as: UTF8.self).components(separatedBy: "Content-Disposition").count == 2)
    }

    @Test("Upload: a boundary found inside the content is replaced")
    func boundaryCollision() {
        let plain = MultipartFormBody(request: ImportRequest(binary: binary, report: nil))
        let hostile = ImportRequest.File(name: binary.name, contents: binary.contents)
        var request = ImportRequest(binary: hostile, report: ImportRequest.File(name: "X.TXT", contents: Data(plain.boundary.utf8)))
        let body = MultipartFormBody(request: request)
        #expect(body.boundary != plain.boundary)
        request.report = nil
        #expect(MultipartFormBody(request: request).boundary == plain.boundary)
    }

    @Test("Upload: a boundary hidden at the end of the content, after a near miss, is still found")
    func boundaryAtEnd() {
        let preferred = MultipartFormBody.preferredBoundary
        let nearMiss = Data(preferred.utf8.dropLast())
        let tricky = ImportRequest.File(name: binary.name, contents: binary.contents + nearMiss + Data(preferred.utf8))
        #expect(MultipartFormBody(request: ImportRequest(binary: tricky, report: nil)).boundary != preferred)
        let harmless = ImportRequest.File(name: binary.name, contents: binary.contents + nearMiss)
        #expect(MultipartFormBody(request: ImportRequest(binary: harmless, report: nil)).boundary == preferred)
    }

    @Test("Upload: the endpoint joins the base URL and escapes the serial hint")
    func endpoint() {
        #expect(ImportContract.endpoint(baseURL: "http://sfm:8200/", serialHint: nil) == "http://sfm:8200/db/import/blastware_file")
        #expect(ImportContract.endpoint(baseURL: "http://sfm:8200", serialHint: "BE 1&2")
            == "http://sfm:8200/db/import/blastware_file?serial=BE%201%262")
    }

    static func reply(_ rows: String) -> Data {
        Data("{\"count\": 2, \"results\": [\(rows)]}".utf8)
    }

    @Test("Reply: only the binary's own ok row is an acceptance")
    func acceptance() {
        let body = Self.reply("""
            {"filename": "N844L20G_630H_ASCII.TXT", "status": "ok"},
            {"filename": "N844L20G.630H", "status": "ok", "filesize": 2000, "inserted": 1, "skipped": 0, "detail": null}
            """)
        let outcome = ImportReplyClassifier.classify(status: 200, retryAfterHeader: nil, body: body, binaryName: "N844L20G.630H")
        #expect(outcome == .accepted(ImportFileResult(filename: "N844L20G.630H", status: "ok", filesize: 2000, inserted: 1, skipped: 0)))
    }

    @Test("Reply: inserted and skipped may be booleans")
    func booleanCounts() {
        let body = Self.reply(#"{"filename": "N844L20G.630H", "status": "ok", "inserted": false, "skipped": true}"#)
        let outcome = ImportReplyClassifier.classify(status: 200, retryAfterHeader: nil, body: body, binaryName: "N844L20G.630H")
        #expect(outcome == .accepted(ImportFileResult(filename: "N844L20G.630H", status: "ok", inserted: 0, skipped: 1)))
    }

    @Test("Reply: an error row, a missing row and a non-JSON body are rejections")
    func rejections() {
        let errorRow = ImportReplyClassifier.classify(
            status: 200, retryAfterHeader: nil,
            body: Self.reply(#"{"filename": "N844L20G.630H", "status": "error", "detail": "bad header"}"#),
            binaryName: "N844L20G.630H")
        #expect(errorRow == .rejected(UploadProblem(kind: .fileError, detail: "bad header")))
        let reportOnly = ImportReplyClassifier.classify(
            status: 200, retryAfterHeader: nil, body: Self.reply(#"{"filename": "N844L20G_630H_ASCII.TXT", "status": "ok"}"#),
            binaryName: "N844L20G.630H")
        guard case .rejected(let missing) = reportOnly else { Issue.record("expected a rejection"); return }
        #expect(missing.kind == .missingRow)
        let html = ImportReplyClassifier.classify(status: 200, retryAfterHeader: nil, body: Data("<html>".utf8),
                                                  binaryName: "N844L20G.630H")
        #expect(html == .rejected(UploadProblem(kind: .nonJSONReply, detail: "<html>")))
    }

    @Test("Reply: 408, 429, 5xx and credential refusals are retryable, with Retry-After; other 4xx are rejections",
          arguments: [(408, true), (429, true), (500, true), (502, true), (503, true), (401, true), (403, true), (407, true),
                      (400, false), (404, false), (413, false)])
    func statusClasses(status: Int, retryable: Bool) {
        let outcome = ImportReplyClassifier.classify(status: status, retryAfterHeader: "30", body: Data("{\"detail\":\"x\"}".utf8),
                                                     binaryName: "N844L20G.630H")
        let detail = [401, 403, 407].contains(status) ? "check SFM_API_TOKEN: {\"detail\":\"x\"}" : "{\"detail\":\"x\"}"
        let problem = UploadProblem(kind: .httpStatus(status), detail: detail, retryAfter: .seconds(30))
        #expect(outcome == (retryable ? .failed(problem) : .rejected(problem)))
    }
}

@Suite("Settings")
struct SettingsTests {
    @Test("Config: defaults match the reference forwarder")
    func defaults() throws {
        let settings = try SettingsResolver.resolve([])
        #expect(settings.forwardingEnabled == false)
        #expect(settings.serverURL == nil)
        #expect(settings.passInterval == .seconds(60))
        #expect(settings.policy == ScanPolicy(quiescencePeriod: .seconds(5), reportGracePeriod: .seconds(60),
                                              maximumEventAge: .seconds(365 * 86_400), forwardsPerPassLimit: 500))
        #expect(settings.requestTimeout == .seconds(60))
        #expect(settings.watchFolder == #"C:\Blastware 10\Event\autocall home"#)
    }

    @Test("Config: flags beat the environment, which beats the file")
    func precedence() throws {
        let file = SettingsLayer(source: "config.ini", values: ["SFM_URL": "http://file:1", "sfm_max_forwards_per_pass": "10",
                                                                "MAX_EVENT_AGE_DAYS": "30"])
        let environment = SettingsLayer(source: "environment", values: ["SFM_URL": "http://env:2", "MAX_EVENT_AGE_DAYS": "40"])
        let flag = SettingsLayer(source: "--max-age-days", values: ["MAX_EVENT_AGE_DAYS": "50"])
        let settings = try SettingsResolver.resolve([file, environment, flag])
        #expect(settings.serverURL == "http://env:2")
        #expect(settings.policy.forwardsPerPassLimit == 10)
        #expect(settings.policy.maximumEventAge == .seconds(50 * 86_400))
    }

    @Test("Config: a per-pass limit of 0 means unlimited")
    func unlimited() throws {
        let settings = try SettingsResolver.resolve([SettingsLayer(source: "x", values: ["SFM_MAX_FORWARDS_PER_PASS": "0"])])
        #expect(settings.policy.forwardsPerPassLimit == nil)
    }

    @Test("Config: a bad value names the key, the value, its source and what is allowed",
          arguments: [("SFM_MAX_FORWARDS_PER_PASS", "-1"), ("MAX_EVENT_AGE_DAYS", "0"), ("MAX_EVENT_AGE_DAYS", "ten"),
                      ("SFM_QUIESCENCE_SECONDS", "-5"), ("SFM_FORWARD_INTERVAL_SECONDS", "0"), ("SFM_FORWARD_ENABLED", "maybe"),
                      ("SFM_URL", "ftp://x"), ("SFM_URL", "sfm:8200"), ("SFM_HTTP_TIMEOUT_SECONDS", "nan"), ("SFM_LOG_FORMAT", "xml"),
                      ("SFM_ADAPTIVE_CONCURRENCY", "sometimes")])
    func badValues(key: String, value: String) {
        #expect {
            try SettingsResolver.resolve([SettingsLayer(source: "config.ini", values: [key: value])])
        } throws: { error in
            guard let error = error as? SettingsError else { return false }
            let message = error.description
            return error.key == key && message.contains(key) && message.contains("\"\(value)\"")
                && message.contains("config.ini") && message.contains("expected")
        }
    }

    @Test("Config: booleans accept configparser's words", arguments: [("yes", true), ("On", true), ("1", true), ("false", false), ("NO", false), ("0", false)])
    func booleans(text: String, value: Bool) throws {
        let settings = try SettingsResolver.resolve([SettingsLayer(source: "x", values: ["SFM_FORWARD_ENABLED": text])])
        #expect(settings.forwardingEnabled == value)
    }

    @Test("Config: INI files with sections, comments, quotes and either separator")
    func iniParsing() throws {
        let text = """
            \u{FEFF}[emitter]
            # comment
            ; another
            SERIES3_PATH = C:\\Blastware 10\\Event\\autocall home
            sfm_url: http://sfm.local:8200
            SFM_FORWARD_ENABLED = "true"

            [other]
            API_URL = http://x/y
            """
        let values = try IniFile.parse(text, path: "config.ini")
        #expect(values["SERIES3_PATH"] == #"C:\Blastware 10\Event\autocall home"#)
        #expect(values["SFM_URL"] == "http://sfm.local:8200")
        #expect(values["SFM_FORWARD_ENABLED"] == "true")
        #expect(values["API_URL"] == "http://x/y")
    }

    @Test("Config: a line that is not KEY = VALUE is an error with its line number")
    func iniError() {
        #expect(throws: IniFileError(path: "config.ini", line: 3, text: "just words")) {
            try IniFile.parse("[a]\nX = 1\njust words\n", path: "config.ini")
        }
    }
}

@Suite("State record codec")
struct StateRecordCodecTests {
    static let record = ForwardRecord(
        digest: EventDigest(of: Array("abc".utf8)), fileName: "N844L20G.630H", byteCount: 4400, hadReport: false,
        forwardedAt: FileTime(nanosecondsSince1970: 1_778_000_000_123_456_789),
        fingerprint: FileFingerprint(byteCount: 4400, modificationTime: FileTime(nanosecondsSince1970: 1_777_999_999_000_000_001),
                                     identity: FileIdentity(volume: 2049, file: 123_456)))

    func decode(_ line: String) -> ForwardRecord? {
        var bytes = Array(line.utf8)
        if bytes.last == UInt8(ascii: "\n") { bytes.removeLast() }
        return bytes.withUnsafeBufferPointer { StateRecordCodec.decode($0) }
    }

    @Test("State: a record survives encoding, with and without a fingerprint")
    func roundTrip() {
        #expect(decode(StateRecordCodec.encode(Self.record)) == Self.record)
        var legacy = Self.record
        legacy.fingerprint = nil
        legacy.hadReport = true
        #expect(decode(StateRecordCodec.encode(legacy)) == legacy)
        var noIdentity = Self.record
        noIdentity.fingerprint?.identity = nil
        #expect(decode(StateRecordCodec.encode(noIdentity)) == noIdentity)
    }

    @Test("State: the digest is sha256 in lower-case hex")
    func digestHex() {
        #expect(EventDigest(of: Array("abc".utf8)).hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(EventDigest(hex: "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD") == EventDigest(of: Array("abc".utf8)))
        #expect(EventDigest(hex: "xyz") == nil)
    }

    @Test("State: damaged lines are refused")
    func damaged() {
        let good = StateRecordCodec.encode(Self.record)
        let fields = good.dropLast().split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        #expect(decode(String(good.prefix(40))) == nil)
        for index in 0..<6 {
            var broken = fields
            broken[index] = "x" + broken[index]
            #expect(decode(broken.joined(separator: "\t")) == nil, "field \(index)")
        }
        #expect(decode(fields.dropLast().joined(separator: "\t")) == nil)
        #expect(decode(good.replacingOccurrences(of: "\t0\t", with: "\t2\t")) == nil)
    }

    @Test("Time: file times print as RFC 3339 UTC")
    func fileTimeDescription() {
        #expect(FileTime(nanosecondsSince1970: 1_778_000_000_123_456_789).description == "2026-05-05T16:53:20.123Z")
        #expect(FileTime(nanosecondsSince1970: -1).description == "1969-12-31T23:59:59.999Z")
    }

    /// Found writing the StateCodec fuzz target (its property: whatever loads can be shown) and
    /// reproduced with it: a state line with such a time stopped `status` and the log.
    @Test("Time: the earliest and latest file times print, without an overflow")
    func fileTimeDescriptionAtTheEdges() {
        #expect(FileTime(nanosecondsSince1970: .min).description == "1677-09-21T00:12:43.145Z")
        #expect(FileTime(nanosecondsSince1970: .min + 1).description == "1677-09-21T00:12:43.145Z")
        #expect(FileTime(nanosecondsSince1970: .max).description == "2262-04-11T23:47:16.854Z")
    }

    /// Found writing the StateCodec fuzz target (its properties: decode(encode(x)) == x, and the
    /// codec accepts what the format allows) and reproduced with it: the encoder wrote Int64.min
    /// and the decoder refused it, so the whole state failed to load.
    @Test("State: the earliest and latest file times survive encoding")
    func roundTripAtTheEdges() {
        for nanoseconds in [Int64.min, Int64.min + 1, -1, Int64.max] {
            var record = Self.record
            record.forwardedAt = FileTime(nanosecondsSince1970: nanoseconds)
            record.fingerprint?.modificationTime = FileTime(nanosecondsSince1970: nanoseconds)
            #expect(decode(StateRecordCodec.encode(record)) == record, "\(nanoseconds)")
        }
        var tooSmall = StateRecordCodec.encode(Self.record)
        tooSmall = tooSmall.replacingOccurrences(of: "\t1778000000123456789\t", with: "\t-9223372036854775809\t")
        #expect(decode(tooSmall) == nil)
    }
}
