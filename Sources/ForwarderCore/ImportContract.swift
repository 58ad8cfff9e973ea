import Foundation

/// The SFM import endpoint's wire contract (DESIGN.md §4), as pure functions.
public enum ImportContract {
    /// The path of the import endpoint under the server's base URL.
    public static let path = "/db/import/blastware_file"
    /// The multipart field that carries every file.
    public static let fieldName = "files"
    public static let userAgent = "blastware-event-forwarder/1"

    /// The import URL for a base URL such as `http://sfm:8200/` and an optional serial hint.
    public static func endpoint(baseURL: String, serialHint: String?) -> String {
        var url = baseURL
        while url.hasSuffix("/") { url.removeLast() }
        url += path
        if let serialHint, !serialHint.isEmpty {
            let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
            let encoded = serialHint.addingPercentEncoding(withAllowedCharacters: allowed) ?? serialHint
            url += "?serial=" + encoded
        }
        return url
    }
}

/// A `multipart/form-data` body holding an import request's files.
///
/// The boundary is fixed rather than drawn at random, so one request always encodes to the same
/// bytes (the simulation's digests depend on it), and it is checked against every part so that
/// binary content can never contain it.
///
/// The body is kept as its framing (the bytes before each file and the closing delimiter) and
/// the files' contents, not as one copy: the uploader writes the pieces straight into the one
/// buffer it sends, sized up front from `byteCount`, so the file bytes are copied once.
public struct MultipartFormBody: Sendable {
    /// One file of the body: the delimiter and headers before it, then its contents.
    public struct Part: Sendable {
        public let head: [UInt8]
        public let contents: Data
    }

    public let boundary: String
    public let parts: [Part]
    /// `\r\n--boundary--\r\n`, after the last part's contents.
    public let closing: [UInt8]
    /// The length of the whole body.
    public let byteCount: Int

    /// The boundary used unless a part happens to contain it.
    public static let preferredBoundary = "----BlastwareForwarder7f3a9c1e5b2d4086"

    public var contentType: String { "multipart/form-data; boundary=\(boundary)" }

    public init(request: ImportRequest) {
        var files = [(request.binary, "application/octet-stream")]
        if let report = request.report { files.append((report, "text/plain")) }
        var boundary = Self.preferredBoundary
        var attempt = 0
        while files.contains(where: { Self.contains($0.0.contents, Array(boundary.utf8)) }) {
            attempt += 1
            boundary = "\(Self.preferredBoundary)x\(attempt)"
        }
        var parts: [Part] = []
        parts.reserveCapacity(files.count)
        for (index, (file, contentType)) in files.enumerated() {
            var head: [UInt8] = []
            head.reserveCapacity(160 + boundary.utf8.count + file.name.utf8.count)
            if index > 0 { head += Self.lineBreak }
            head += Self.dashes
            head += boundary.utf8
            head += Self.lineBreak
            head += Self.dispositionStart
            Self.appendQuoted(file.name, to: &head)
            head += Self.dispositionEnd
            head += contentType.utf8
            head += Self.lineBreak
            head += Self.lineBreak
            parts.append(Part(head: head, contents: file.contents))
        }
        self.boundary = boundary
        self.parts = parts
        closing = Self.lineBreak + Self.dashes + Array(boundary.utf8) + Self.dashes + Self.lineBreak
        byteCount = parts.reduce(closing.count) { $0 + $1.head.count + $1.contents.count }
    }

    /// The whole body in one `Data`, for callers that want it as one value.
    public var bytes: Data {
        var body = Data(capacity: byteCount)
        for part in parts {
            body.append(contentsOf: part.head)
            body.append(part.contents)
        }
        body.append(contentsOf: closing)
        return body
    }

    private static let lineBreak = Array("\r\n".utf8)
    private static let dashes = Array("--".utf8)
    private static let dispositionStart = Array("Content-Disposition: form-data; name=\"\(ImportContract.fieldName)\"; filename=\"".utf8)
    private static let dispositionEnd = Array("\"\r\nContent-Type: ".utf8)

    /// Whether `needle` occurs in `haystack`, by Horspool's search: on binary content most
    /// compared bytes are not in the needle, and the search then skips a needle's length.
    static func contains(_ haystack: Data, _ needle: [UInt8]) -> Bool {
        let length = needle.count
        guard length > 0, haystack.count >= length else { return false }
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: 256) { skip in
            skip.initialize(repeating: length)
            for (index, byte) in needle.dropLast().enumerated() { skip[Int(byte)] = length - 1 - index }
            return haystack.withUnsafeBytes { raw in
                let bytes = raw.bindMemory(to: UInt8.self)
                let last = needle[length - 1]
                var end = length - 1
                while end < bytes.count {
                    let byte = bytes[end]
                    if byte == last {
                        var offset = 1
                        while offset < length, bytes[end - offset] == needle[length - 1 - offset] { offset += 1 }
                        if offset == length { return true }
                    }
                    end += skip[Int(byte)]
                }
                return false
            }
        }
    }

    /// Appends `name` as a quoted header value: `\\` and `"` escaped, CR and LF dropped; event
    /// and report names never need it.
    private static func appendQuoted(_ name: String, to head: inout [UInt8]) {
        for byte in name.utf8 {
            switch byte {
            case UInt8(ascii: "\\"), UInt8(ascii: "\""): head += [UInt8(ascii: "\\"), byte]
            case UInt8(ascii: "\r"), UInt8(ascii: "\n"): continue
            default: head.append(byte)
            }
        }
    }
}

/// One row of the server's reply: the outcome for one uploaded file.
public struct ImportFileResult: Hashable, Sendable, Codable {
    public var filename: String
    public var status: String
    public var filesize: Int64?
    public var inserted: Int?
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

    enum CodingKeys: String, CodingKey { case filename, status, filesize, inserted, skipped, detail }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        filename = try container.decode(String.self, forKey: .filename)
        status = try container.decode(String.self, forKey: .status)
        filesize = try? container.decodeIfPresent(Int64.self, forKey: .filesize)
        inserted = Self.flexibleCount(container, .inserted)
        skipped = Self.flexibleCount(container, .skipped)
        detail = try? container.decodeIfPresent(String.self, forKey: .detail)
    }

    /// The server reports `inserted`/`skipped` as counts; booleans are read as 0 or 1 too.
    private static func flexibleCount(_ container: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) -> Int? {
        if let count = try? container.decodeIfPresent(Int.self, forKey: key) { return count }
        if let flag = try? container.decodeIfPresent(Bool.self, forKey: key) { return flag ? 1 : 0 }
        return nil
    }
}

/// The server's whole reply body.
public struct ImportReply: Hashable, Sendable, Codable {
    public var count: Int?
    public var results: [ImportFileResult]

    public init(count: Int?, results: [ImportFileResult]) {
        self.count = count
        self.results = results
    }
}

/// What one upload came to.
public enum UploadOutcome: Hashable, Sendable {
    /// The binary's own row says `ok`: record it.
    case accepted(ImportFileResult)
    /// The server understood and refused, or answered in a way that retrying will not change.
    case rejected(UploadProblem)
    /// Worth trying again later: the server or the network was not able to answer.
    case failed(UploadProblem)

    public var isAccepted: Bool {
        if case .accepted = self { return true }
        return false
    }
}

/// Why an upload was not accepted, for logs, status and retry decisions.
public struct UploadProblem: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        case httpStatus(Int)
        case fileError
        case nonJSONReply
        case missingRow
        case transport
        case timeout
    }

    public var kind: Kind
    public var detail: String
    /// The server's `Retry-After`, when it gave one the forwarder understands.
    public var retryAfter: RetryAfter?

    public init(kind: Kind, detail: String, retryAfter: RetryAfter? = nil) {
        self.kind = kind
        self.detail = detail
        self.retryAfter = retryAfter
    }

    public var description: String {
        switch kind {
        case .httpStatus(let code): return "HTTP \(code): \(detail)"
        case .fileError: return "server error row: \(detail)"
        case .nonJSONReply: return "non-JSON reply: \(detail)"
        case .missingRow: return "reply has no row for the file: \(detail)"
        case .transport: return "transport: \(detail)"
        case .timeout: return "timeout: \(detail)"
        }
    }
}

/// Turns an HTTP reply into an outcome for the binary that was uploaded.
public enum ImportReplyClassifier {
    /// Statuses that say "not now" rather than "no": retried later.
    ///
    /// 401, 403 and 407 say the forwarder's credentials are wrong, not the event: counting them
    /// as refusals would quarantine every event while a token is being fixed, so they are retried
    /// and open the circuit breaker instead.
    public static func isRetryable(status: Int) -> Bool {
        status == 408 || status == 429 || (500...599).contains(status) || isCredentialProblem(status: status)
    }

    /// 401, 403 and 407: the server or a proxy does not accept the forwarder's credentials.
    public static func isCredentialProblem(status: Int) -> Bool {
        status == 401 || status == 403 || status == 407
    }

    public static func classify(status: Int, retryAfterHeader: String?, body: Data,
                                binaryName: String) -> UploadOutcome {
        guard (200...299).contains(status) else {
            let excerpt = Self.excerpt(body)
            let detail = isCredentialProblem(status: status) ? "check SFM_API_TOKEN: \(excerpt)" : excerpt
            let problem = UploadProblem(kind: .httpStatus(status), detail: detail,
                                        retryAfter: retryAfterHeader.flatMap(RetryAfter.parse))
            return isRetryable(status: status) ? .failed(problem) : .rejected(problem)
        }
        let reply = body.withUnsafeBytes { ImportReplyReader.read($0.bindMemory(to: UInt8.self)) }
        guard let reply = reply ?? (try? JSONDecoder().decode(ImportReply.self, from: body)) else {
            return .rejected(UploadProblem(kind: .nonJSONReply, detail: Self.excerpt(body)))
        }
        let rows = reply.results.filter { $0.filename == binaryName }
        if let accepted = rows.first(where: { $0.status == "ok" }) {
            return .accepted(accepted)
        }
        if let refused = rows.first {
            return .rejected(UploadProblem(kind: .fileError, detail: refused.detail ?? refused.status))
        }
        return .rejected(UploadProblem(kind: .missingRow, detail: Self.excerpt(body)))
    }

    /// The first 300 characters of a body, for messages.
    static func excerpt(_ body: Data) -> String {
        let text = String(decoding: body.prefix(300), as: UTF8.self)
        return body.count > 300 ? text + "…" : text
    }
}
