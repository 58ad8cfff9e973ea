/// An accepted record with its name still as UTF-8 bytes: what loading a state line hands to
/// the record table, so that a million lines do not make a million strings (issue #14).
///
/// `fileNameUTF8` points into the bytes it was read from (a line, a string's storage) and is
/// valid only as long as they are; use the fields within the call that produced them.
public struct ForwardRecordFields {
    public var digest: EventDigest
    public var byteCount: Int64
    public var hadReport: Bool
    public var forwardedAt: FileTime
    /// The fingerprint's modification time; nil when the record has no fingerprint.
    public var modificationTime: FileTime?
    /// The fingerprint's identity; always nil when `modificationTime` is.
    public var identity: FileIdentity?
    public var fileNameUTF8: UnsafeBufferPointer<UInt8>

    public init(digest: EventDigest, byteCount: Int64, hadReport: Bool, forwardedAt: FileTime,
                modificationTime: FileTime?, identity: FileIdentity?, fileNameUTF8: UnsafeBufferPointer<UInt8>) {
        self.digest = digest
        self.byteCount = byteCount
        self.hadReport = hadReport
        self.forwardedAt = forwardedAt
        self.modificationTime = modificationTime
        self.identity = identity
        self.fileNameUTF8 = fileNameUTF8
    }

    /// Calls `body` with the fields of `record`, its name's bytes borrowed from the string.
    public static func withFields<Result>(of record: ForwardRecord, _ body: (ForwardRecordFields) throws -> Result) rethrows -> Result {
        var name = record.fileName
        return try name.withUTF8 { nameUTF8 in
            try body(ForwardRecordFields(digest: record.digest, byteCount: record.byteCount, hadReport: record.hadReport,
                                         forwardedAt: record.forwardedAt,
                                         modificationTime: record.fingerprint?.modificationTime,
                                         identity: record.fingerprint?.identity, fileNameUTF8: nameUTF8))
        }
    }
}

extension ForwardRecord {
    /// The record the fields describe, its name copied into a string.
    public init(_ fields: ForwardRecordFields) {
        let fingerprint = fields.modificationTime.map {
            FileFingerprint(byteCount: fields.byteCount, modificationTime: $0, identity: fields.identity)
        }
        self.init(digest: fields.digest, fileName: String(decoding: fields.fileNameUTF8, as: UTF8.self),
                  byteCount: fields.byteCount, hadReport: fields.hadReport, forwardedAt: fields.forwardedAt,
                  fingerprint: fingerprint)
    }
}
