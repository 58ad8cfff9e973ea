import Foundation

/// The SFM import endpoint as the mock serves it, written from domain.md §9 and not from the
/// forwarder's `ImportContract`, so that a forwarder that drifts from the contract (a wrong
/// path, field or reply key) disagrees with the mock instead of agreeing with itself.
public enum MockContract {
    /// Where the SFM takes uploads.
    public static let importPath = "/db/import/blastware_file"
    /// The multipart field every uploaded file goes in.
    public static let fileFieldName = "files"

    /// The 200 reply body: `{"count": N, "results": [row, …]}`.
    static func replyBody(_ rows: [MockReplyRow]) -> Data {
        (try? JSONEncoder().encode(ReplyBody(count: rows.count, results: rows))) ?? Data("{}".utf8)
    }

    private struct ReplyBody: Encodable {
        var count: Int
        var results: [MockReplyRow]
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
