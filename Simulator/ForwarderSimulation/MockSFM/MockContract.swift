import Foundation

/// The SFM import endpoint as the mock serves it, written from domain.md §9 and not from the
/// forwarder's `ImportContract`, so that a forwarder that drifts from the contract (a wrong
/// path, field or reply key) disagrees with the mock instead of agreeing with itself.
public enum MockContract {
    /// Where the SFM takes uploads.
    public static let importPath = "/db/import/blastware_file"
    /// The multipart field every uploaded file goes in.
    public static let fileFieldName = "files"

    /// The 200 reply body: `{"count": N, "results": [row, …]}`, keys in the rows' declared order.
    ///
    /// Written by hand: `JSONEncoder` was 3 % of the mock's CPU for a body of two rows.
    static func replyBody(_ rows: [MockReplyRow]) -> Data {
        var json = "{\"count\":\(rows.count),\"results\":["
        for (index, row) in rows.enumerated() {
            if index > 0 { json += "," }
            json += "{\"filename\":"
            appendJSONString(row.filename, to: &json)
            json += ",\"status\":"
            appendJSONString(row.status, to: &json)
            if let filesize = row.filesize { json += ",\"filesize\":\(filesize)" }
            if let inserted = row.inserted { json += ",\"inserted\":\(inserted)" }
            if let skipped = row.skipped { json += ",\"skipped\":\(skipped)" }
            if let detail = row.detail {
                json += ",\"detail\":"
                appendJSONString(detail, to: &json)
            }
            json += "}"
        }
        json += "]}"
        return Data(json.utf8)
    }

    /// `text` as a JSON string literal: quotes, backslashes and control characters escaped.
    static func appendJSONString(_ text: String, to json: inout String) {
        json += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": json += "\\\""
            case "\\": json += "\\\\"
            case "\n": json += "\\n"
            case "\r": json += "\\r"
            case "\t": json += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                json += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                json.unicodeScalars.append(scalar)
            }
        }
        json += "\""
    }
}

/// One row of the mock's reply: what became of one uploaded file.
public struct MockReplyRow: Hashable, Sendable, Codable {
    /// The file's name as uploaded.
    public var filename: String
    /// `ok` or `error`.
    public var status: String
    public var filesize: Int64?
    /// 1 when the file created a new event.
    public var inserted: Int?
    /// 1 when the store already held exactly this.
    public var skipped: Int?
    public var detail: String?

    public init(filename: String, status: String, filesize: Int64? = nil, inserted: Int? = nil,
                skipped: Int? = nil, detail: String? = nil) {
        self.filename = filename
        self.status = status
        self.filesize = filesize
        self.inserted = inserted
        self.skipped = skipped
        self.detail = detail
    }

    private enum CodingKeys: String, CodingKey {
        case filename, status, filesize, inserted, skipped, detail
    }
}
