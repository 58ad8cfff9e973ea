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
    /// Written by hand, as UTF-8 bytes: `JSONEncoder` was 3 % of the mock's CPU for a body of two
    /// rows, and building it as a `String` scalar by scalar 2 %.
    static func replyBody(_ rows: [MockReplyRow]) -> Data {
        var json: [UInt8] = []
        json.reserveCapacity(64 + rows.count * 192)
        func append(_ text: String) { json.append(contentsOf: text.utf8) }
        append("{\"count\":\(rows.count),\"results\":[")
        for (index, row) in rows.enumerated() {
            if index > 0 { append(",") }
            append("{\"filename\":")
            appendJSONString(row.filename, to: &json)
            append(",\"status\":")
            appendJSONString(row.status, to: &json)
            if let filesize = row.filesize { append(",\"filesize\":\(filesize)") }
            if let inserted = row.inserted { append(",\"inserted\":\(inserted)") }
            if let skipped = row.skipped { append(",\"skipped\":\(skipped)") }
            if let detail = row.detail {
                append(",\"detail\":")
                appendJSONString(detail, to: &json)
            }
            append("}")
        }
        append("]}")
        return Data(json)
    }

    /// `text` as a JSON string literal: quotes, backslashes and control characters escaped, every
    /// other byte of its UTF-8 as it is.
    static func appendJSONString(_ text: String, to json: inout [UInt8]) {
        json.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): json.append(contentsOf: "\\\"".utf8)
            case UInt8(ascii: "\\"): json.append(contentsOf: "\\\\".utf8)
            case UInt8(ascii: "\n"): json.append(contentsOf: "\\n".utf8)
            case UInt8(ascii: "\r"): json.append(contentsOf: "\\r".utf8)
            case UInt8(ascii: "\t"): json.append(contentsOf: "\\t".utf8)
            case ..<0x20:
                let hexDigits = Array("0123456789abcdef".utf8)
                json.append(contentsOf: "\\u00".utf8)
                json.append(hexDigits[Int(byte >> 4)])
                json.append(hexDigits[Int(byte & 0x0F)])
            default:
                json.append(byte)
            }
        }
        json.append(UInt8(ascii: "\""))
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
