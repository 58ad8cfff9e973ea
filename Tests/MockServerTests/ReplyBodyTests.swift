import Foundation
@testable import ForwarderSimulation
import Testing

/// The hand-written 200 reply against `JSONEncoder`'s encoding of the same rows.
@Suite("Mock reply body")
struct ReplyBodyTests {
    private struct Reply: Codable, Equatable {
        var count: Int
        var results: [MockReplyRow]
    }

    static let rows: [MockReplyRow] = [
        MockReplyRow(filename: "N844L20G.630H", status: "ok", filesize: 65_536, inserted: 1),
        MockReplyRow(filename: "N844L20G_630H_ASCII.TXT", status: "ok", filesize: 0, skipped: 1),
        MockReplyRow(filename: "q\"b\\s/\u{1}\u{1F}\n\r\t\u{7F}é😀", status: "error", detail: "line\none \"two\" \\ three"),
        MockReplyRow(filename: "", status: "ok", filesize: -1, inserted: 0, skipped: 0, detail: ""),
    ]

    @Test("Mock: the reply decodes to the rows it was written from, absent fields absent")
    func decodesToRows() throws {
        for count in 0...Self.rows.count {
            let rows = Array(Self.rows.prefix(count))
            let body = MockContract.replyBody(rows)
            #expect(try JSONDecoder().decode(Reply.self, from: body) == Reply(count: rows.count, results: rows))
            let encoded = try JSONEncoder().encode(Reply(count: rows.count, results: rows))
            let handObject = try JSONSerialization.jsonObject(with: body) as? NSDictionary
            let encoderObject = try JSONSerialization.jsonObject(with: encoded) as? NSDictionary
            #expect(handObject == encoderObject, "\(String(decoding: body, as: UTF8.self))")
        }
    }

    @Test("Mock: control characters in a name are escaped as \\u00XX")
    func escapesControlCharacters() {
        let body = MockContract.replyBody([MockReplyRow(filename: "a\u{1}b", status: "ok")])
        #expect(String(decoding: body, as: UTF8.self) == "{\"count\":1,\"results\":[{\"filename\":\"a\\u0001b\",\"status\":\"ok\"}]}")
    }
}
