@testable import ForwarderCore
import Foundation
import Testing

/// The hand reader of import replies answers only where it agrees with `JSONDecoder`.
@Suite("Import reply reader")
struct ImportReplyReaderTests {
    static func read(_ text: String) -> ImportReply? {
        Array(text.utf8).withUnsafeBufferPointer { ImportReplyReader.read($0) }
    }

    static let serverShapes = [
        #"{"count":1,"results":[{"filename":"N844L20G.630H","status":"ok","filesize":61234,"inserted":1,"skipped":0}]}"#,
        #"{"count": 2, "results": [{"filename": "A.630H", "status": "error", "detail": "bad \"header\" \u00e9\n"},"#
            + #" {"filename": "N844L20G.630H", "status": "ok", "inserted": true, "skipped": false, "extra": {"a": [1, 2.5e3, null]}}]}"#,
        #"{"results":[],"count":null}"#,
        #"{"results":[{"filename":"x","status":"ok","note":1,"note":[2]}],"results2":{},"results2":3}"#,
        #"{"results":[{"filename":"x","status":"ok","filesize":"12","inserted":"1","detail":7,"skipped":null}]}"#,
        #" { "note" : "ignored" , "results" : [ { "status" : "ok" , "filename" : "\ud83d\ude00" , "filesize" : -3 } ] } "#,
    ]

    @Test("Import reply: the server's replies read by hand equal what JSONDecoder makes of them",
          arguments: serverShapes)
    func agreesWithDecoder(reply: String) throws {
        let decoded = try JSONDecoder().decode(ImportReply.self, from: Data(reply.utf8))
        let read = try #require(Self.read(reply), "the reader left a plain reply to JSONDecoder")
        #expect(read == decoded)
    }

    static let leftToDecoder = [
        #"{"count":1.0,"results":[]}"#,
        #"{"count":"1","results":[]}"#,
        #"{"results":[{"filename":"x","status":"ok","filesize":1e3}]}"#,
        #"{"results":[{"filename":"x","status":"ok","inserted":-0}]}"#,
        #"{"results":[{"filename":"x","status":"ok","inserted":12345678901234567890}]}"#,
        #"{"results":[{"filename":"x","status":"ok","filename":"y"}]}"#,
        #"{"results":[],"results":[]}"#,
        #"{"results":[{"filename":"x"}]}"#,
        #"{"results":[{"filename":1,"status":"ok"}]}"#,
        #"{"results":{}}"#,
        #"{"count":1}"#,
        #"[{"filename":"x","status":"ok"}]"#,
        #"{"results":[]} trailing"#,
        #"{"results":[{"filename":"x","status":"ok",}]}"#,
        "\u{FEFF}{\"results\":[]}",
        "",
    ]

    @Test("Import reply: odd numbers, duplicate names, wrong types and bad syntax are left to JSONDecoder",
          arguments: leftToDecoder)
    func leavesOddRepliesToDecoder(reply: String) {
        #expect(Self.read(reply) == nil)
    }

    @Test("Import reply: the classifier accepts on the binary's ok row whichever reader decoded it")
    func classifierUsesEitherReader() {
        let plain = #"{"count":1,"results":[{"filename":"N844L20G.630H","status":"ok","inserted":1}]}"#
        let odd = #"{"count":1,"results":[{"filename":"N844L20G.630H","status":"ok","inserted":1,"detail":1.5}]}"#
        #expect(Self.read(odd) == nil)
        for reply in [plain, odd] {
            let outcome = ImportReplyClassifier.classify(status: 200, retryAfterHeader: nil, body: Data(reply.utf8),
                                                         binaryName: "N844L20G.630H")
            #expect(outcome == .accepted(ImportFileResult(filename: "N844L20G.630H", status: "ok", inserted: 1)),
                    "\(reply)")
        }
    }
}
