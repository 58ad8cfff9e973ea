import ForwarderCore
import Testing

@Suite("VersionOneState")
struct VersionOneStateTests {
    static let digestA = String(repeating: "ab", count: 32)
    static let digestB = String(repeating: "0F", count: 32)

    func parse(_ json: String) throws -> [ForwardRecord] {
        var records: [ForwardRecord] = []
        var bytes = Array(json.utf8)
        try bytes.withUnsafeMutableBufferPointer { buffer in
            try VersionOneState.parse(UnsafeBufferPointer(buffer)) { records.append($0) }
        }
        return records
    }

    func failure(_ json: String) -> VersionOneState.Failure? {
        do {
            _ = try parse(json)
            return nil
        } catch {
            return error as? VersionOneState.Failure
        }
    }

    func nanoseconds(_ text: String) -> Int64? {
        try? VersionOneState.parseTimestamp(text).get().nanosecondsSince1970
    }

    @Test("VersionOneState: entries are read with every field, defaults for missing ones, keys in any order")
    func entries() throws {
        let json = """
            \u{FEFF}{ "forwarded" : {
              "\(Self.digestA)": {"size": 4400, "filename": "N844L20G.630H", "forwarded_at": "2026-05-08T10:11:12.345678Z",
                                  "extra": [1, {"x": null}, "y"], "had_report": false},
              "\(Self.digestB)": {"filename": "a \\"quoted\\" \\u00e9\\ud83d\\ude00 name\\/x"}
            }, "comment": "ignored", "version": 1 }
            """
        let records = try parse(json)
        #expect(records.count == 2)
        #expect(records[0].digest == EventDigest(hex: Self.digestA))
        #expect(records[0].fileName == "N844L20G.630H")
        #expect(records[0].byteCount == 4400)
        #expect(records[0].hadReport == false)
        #expect(records[0].forwardedAt.nanosecondsSince1970 == 1_778_235_072_345_678_000)
        #expect(records[0].fingerprint == nil)
        #expect(records[1].fileName == "a \"quoted\" é😀 name/x")
        #expect(records[1].byteCount == 0)
        #expect(records[1].hadReport, "an entry without had_report counts as sent with its report")
        #expect(records[1].forwardedAt.nanosecondsSince1970 == 0, "an entry without forwarded_at is dated at the epoch")
    }

    @Test("VersionOneState: the failures keep their order: syntax, root, version, forwarded, then the first bad entry")
    func failures() {
        #expect(failure(#"{"version": 1, "forwarded": {"#) == .malformedJSON("byte 29: expected a member name"))
        #expect(failure(#"{"version": 1, "forwarded": {}} x"#) == .malformedJSON("byte 32: expected the end of the file"))
        #expect(failure(#"{"version": 1, "forwarded": {"a": tru}}"#) == .malformedJSON("byte 34: expected a value"))
        #expect(failure(#"[1]"#) == .rootNotObject)
        #expect(failure(#"{"forwarded": {"x": 1}, "version": 2}"#) == .unsupportedVersion("2"))
        #expect(failure(#"{"version": "1"}"#) == .unsupportedVersion("\"1\""))
        #expect(failure(#"{"forwarded": {}}"#) == .unsupportedVersion(nil))
        #expect(failure(#"{"version": 1, "forwarded": []}"#) == .forwardedNotObject)
        #expect(failure(#"{"version": 1}"#) == nil, "no forwarded entries is an empty state")
        let badEntries: [(String, String)] = [
            (#""filename": "", "size": 1"#, "filename"),
            (#""filename": "a\tb""#, "filename"),
            (#""filename": 5"#, "filename is not a string"),
            (#""size": 1"#, "no filename"),
            (#""filename": "a", "size": -5"#, "size -5"),
            (#""filename": "a", "size": 1.5e30"#, "size 1.5e30"),
            (#""filename": "a", "size": 99999999999999999999"#, "size 99999999999999999999"),
            (#""filename": "a", "had_report": 1"#, "had_report 1"),
            (#""filename": "a", "forwarded_at": "yesterday""#, "forwarded_at \"yesterday\" is not an ISO-8601 time"),
            (#""filename": "a", "forwarded_at": "2300-01-01T00:00:00Z""#, "forwarded_at \"2300-01-01T00:00:00Z\" is outside"),
        ]
        for (fields, phrase) in badEntries {
            let json = #"{"version": 1, "forwarded": {"\#(Self.digestB)": {"filename": "ok"}, "\#(Self.digestA)": {\#(fields)}}}"#
            guard case .invalidEntry(let key, let detail)? = failure(json) else {
                Issue.record("\(fields) was accepted")
                continue
            }
            #expect(key == Self.digestA)
            #expect(detail.contains(phrase), "\(detail)")
        }
        guard case .invalidEntry(let key, _)? = failure(#"{"version": 1, "forwarded": {"not-a-digest": {"filename": "a"}}}"#) else {
            Issue.record("a key that is not a digest was accepted")
            return
        }
        #expect(key == "not-a-digest")
    }

    @Test("VersionOneState: ISO-8601 times with fractions, Z and offsets, to the nanosecond")
    func timestamps() {
        let base: Int64 = 1_778_235_072_000_000_000  // 2026-05-08T10:11:12Z
        #expect(nanoseconds("2026-05-08T10:11:12Z") == base)
        #expect(nanoseconds("2026-05-08T10:11:12z") == base)
        #expect(nanoseconds("2026-05-08T10:11:12") == base, "without a zone the time is UTC")
        #expect(nanoseconds("2026-05-08T10:11:12.5Z") == base + 500_000_000)
        #expect(nanoseconds("2026-05-08T10:11:12.345678Z") == base + 345_678_000)
        #expect(nanoseconds("2026-05-08T10:11:12.123456789Z") == base + 123_456_789)
        #expect(nanoseconds("2026-05-08T10:11:12.1234567899999Z") == base + 123_456_789, "digits past nanoseconds are dropped")
        #expect(nanoseconds("2026-05-08T12:11:12+02:00") == base)
        #expect(nanoseconds("2026-05-08T05:41:12-0430") == base)
        #expect(nanoseconds("2026-05-08T10:11:12.345678+00:00") == base + 345_678_000)
        #expect(nanoseconds("1970-01-01T00:00:00Z") == 0)
        #expect(nanoseconds("1969-12-31T23:59:59.5Z") == -500_000_000)
        #expect(nanoseconds("2024-02-29T00:00:00Z") != nil)
        #expect(nanoseconds("2262-04-11T23:47:16.854775807Z") == .max, "the last nanosecond a file time holds")
    }

    @Test("VersionOneState: times a file time cannot hold are refused as out of range, never trapping")
    func outOfRange() {
        for text in ["2262-04-11T23:47:16.854775808Z", "2300-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1600-01-01T00:00:00Z"] {
            #expect(VersionOneState.parseTimestamp(text) == .failure(.outOfRange), "\(text)")
        }
    }

    @Test("VersionOneState: malformed times are refused")
    func malformedTimes() {
        for text in ["", "2026-05-08", "2026-05-08T10:11", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z",
                     "2026-05-08T24:00:00Z", "2026-05-08T10:60:00Z", "2026-05-08T10:11:60Z", "2026-05-08T10:11:12.Z",
                     "2026-05-08T10:11:12+2", "2026-05-08T10:11:12ZZ", "2026-05-08T10:11:12 UTC", "+2026-05-08T10:11:12Z",
                     "２０２６-05-08T10:11:12Z"] {
            #expect(VersionOneState.parseTimestamp(text) == .failure(.notISO8601), "\(text.debugDescription)")
        }
    }
}
