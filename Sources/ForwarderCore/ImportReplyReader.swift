/// Reads an import reply's JSON by hand, for the shape the server sends, and says "unsure" for
/// anything else so that `JSONDecoder` decides it.
///
/// `JSONDecoder` cost 8 % of an upload's CPU for a reply of a few hundred bytes. Its verdicts stay
/// the rule: this reader answers only where it cannot disagree with `ImportReply`'s `Decodable`
/// (a top-level object, `count` absent, null or a plain integer, `results` an array of objects
/// with string `filename` and `status`, optional fields plain integers, booleans, strings or
/// null, no field named twice); every other reply, well-formed or not, goes to the decoder.
enum ImportReplyReader {
    /// The reply, or nil when this reader is not sure what `JSONDecoder` would make of it.
    static func read(_ bytes: UnsafeBufferPointer<UInt8>) -> ImportReply? {
        var reader = JSONReader(bytes: bytes)
        do {
            let reply = try readReply(&reader)
            try reader.expectEnd()
            return reply
        } catch {
            return nil
        }
    }

    /// Thrown where the reply is valid JSON that this reader leaves to `JSONDecoder`.
    private struct Unsure: Error {}

    private static func readReply(_ reader: inout JSONReader) throws -> ImportReply {
        var count: Int??
        var results: [ImportFileResult]?
        try reader.forEachMember { reader, key in
            switch key {
            case "count":
                guard count == nil else { throw Unsure() }
                switch try plainValue(&reader) {
                case .null: count = .some(nil)
                case .integer(let value): count = .some(value)
                default: throw Unsure()
                }
            case "results":
                guard results == nil else { throw Unsure() }
                results = try readResults(&reader)
            default:
                try reader.skipValue()
            }
        }
        guard let results else { throw Unsure() }
        return ImportReply(count: count ?? nil, results: results)
    }

    private static func readResults(_ reader: inout JSONReader) throws -> [ImportFileResult] {
        var results: [ImportFileResult] = []
        try reader.forEachElement { reader in
            results.append(try readResult(&reader))
        }
        return results
    }

    private static func readResult(_ reader: inout JSONReader) throws -> ImportFileResult {
        var filename: String?
        var status: String?
        var result = ImportFileResult(filename: "", status: "")
        // The fields met so far, one bit each: `JSONDecoder` takes the first of duplicate names,
        // a rule this reader does not copy. Other names are skipped, duplicated or not.
        var seenFields: UInt8 = 0
        func claim(_ field: UInt8) throws {
            guard seenFields & field == 0 else { throw Unsure() }
            seenFields |= field
        }
        try reader.forEachMember { reader, key in
            switch key {
            case "filename":
                try claim(1)
                guard case .string(let text) = try plainValue(&reader) else { throw Unsure() }
                filename = text
            case "status":
                try claim(2)
                guard case .string(let text) = try plainValue(&reader) else { throw Unsure() }
                status = text
            case "filesize":
                try claim(4)
                if case .integer(let value) = try plainValue(&reader) { result.filesize = Int64(value) }
            case "inserted":
                try claim(8)
                result.inserted = try count(&reader)
            case "skipped":
                try claim(16)
                result.skipped = try count(&reader)
            case "detail":
                try claim(32)
                if case .string(let text) = try plainValue(&reader) { result.detail = text }
            default:
                try reader.skipValue()
            }
        }
        guard let filename, let status else { throw Unsure() }
        result.filename = filename
        result.status = status
        return result
    }

    /// `inserted` or `skipped`: a count, or a boolean read as 1 or 0; nil for anything else.
    private static func count(_ reader: inout JSONReader) throws -> Int? {
        switch try plainValue(&reader) {
        case .integer(let value): return value
        case .boolean(let flag): return flag ? 1 : 0
        default: return nil
        }
    }

    /// A member's value, as far as the reply's fields care.
    private enum PlainValue {
        case null
        case boolean(Bool)
        /// At most 18 digits with an optional minus, no fraction or exponent: fits any integer field.
        case integer(Int)
        case string(String)
        /// Anything else: a number of another form, an object or an array.
        case other
    }

    private static func plainValue(_ reader: inout JSONReader) throws -> PlainValue {
        switch reader.peekNonWhitespace() {
        case UInt8(ascii: "\""):
            return .string(try reader.stringValue() ?? "")
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            try reader.skipValue()
            return .other
        default:
            let text = try reader.rawValue()
            switch text {
            case "null": return .null
            case "true": return .boolean(true)
            case "false": return .boolean(false)
            default:
                let digits = text.utf8.first == UInt8(ascii: "-") ? text.utf8.dropFirst() : text.utf8[...]
                guard text != "-0", digits.count <= 18, digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
                      let value = Int(text) else { throw Unsure() }
                return .integer(value)
            }
        }
    }
}
