/// One line of the forwarding state.
public enum StateLine: Hashable, Sendable {
    /// The server accepted this binary.
    case accepted(ForwardRecord)
    /// Uploads of this binary failed; it is backing off or quarantined.
    case attempts(DeliveryAttempts)
    /// An operator released the binary's attempts; it is tried at the next pass.
    case released(fileName: String)
    /// The circuit breaker's count of failed uploads in a row (at most its threshold).
    case consecutiveFailures(Int)
}

extension StateLine {
    /// The binary's name the line is about, if it is about one.
    public var fileName: String? {
        switch self {
        case .accepted(let record): return record.fileName
        case .attempts(let attempts): return attempts.fileName
        case .released(let fileName): return fileName
        case .consecutiveFailures: return nil
        }
    }
}

/// The line format of the forwarding state: one fact per line, tab-separated, name last.
///
/// - accepted: `digest  byteCount  hadReport  forwardedAtNs  mtimeNs|-  volume:file|-  fileName`
/// - attempts: `A  digest  failures  rejections  quarantined  lastAttemptNs  nextAttemptNs  byteCount
///   mtimeNs  volume:file|-  lastError  fileName`
/// - released: `R  fileName`
/// - circuit breaker: `B  failures in a row`
///
/// A hand-parsed line format rather than JSON because a million records must load in well under
/// two seconds, and because a torn last line is easy to recognise (no newline, or a bad field).
/// Version 3 added the attempts and released lines, version 4 the circuit breaker's line;
/// files of versions 2 and 3 are read as they are. Snapshots are written in format 5
/// (`BinaryStateSnapshot`) since issue #14; journals stay in this one.
public enum StateRecordCodec {
    /// The first line of a journal, and of a text snapshot.
    public static let header = "BLASTWARE-FORWARDER-STATE 4"
    /// Headers of files this version reads: its own, version 3 (no breaker line) and version 2
    /// (accepted lines only).
    public static let readableHeaders: Set<String> = [header, "BLASTWARE-FORWARDER-STATE 3",
                                                      "BLASTWARE-FORWARDER-STATE 2"]
    /// The versions this release reads, for messages: `readableHeaders` and the binary
    /// snapshot (`BinaryStateSnapshot`).
    public static let readableVersions = "2, 3 and 4 of the text format and version 5 of the binary snapshot"

    /// Encodes any state line, newline included.
    public static func encode(_ line: StateLine) -> String {
        switch line {
        case .accepted(let record): return encode(record)
        case .attempts(let attempts): return encode(attempts)
        case .released(let fileName): return "R\t\(fileName)\n"
        case .consecutiveFailures(let count): return "B\t\(count)\n"
        }
    }

    /// Encodes the attempts of a binary as one line, newline included.
    public static func encode(_ attempts: DeliveryAttempts) -> String {
        var line = "A\t\(attempts.digest.hex)\t\(attempts.failures)\t\(attempts.rejections)\t"
        line += "\(attempts.quarantined ? 1 : 0)\t\(attempts.lastAttemptAt.nanosecondsSince1970)\t"
        line += "\(attempts.nextAttemptAt.nanosecondsSince1970)\t\(attempts.fingerprint.byteCount)\t"
        line += "\(attempts.fingerprint.modificationTime.nanosecondsSince1970)\t"
        line += attempts.fingerprint.identity.map { "\($0.volume):\($0.file)" } ?? "-"
        line += "\t\(RetryPlanner.oneLine(attempts.lastError))\t\(attempts.fileName)\n"
        return line
    }

    /// Whether the line, if valid, is an accepted record's (`decodeFields`): the only kind
    /// without a one-letter tag before its first tab.
    public static func isAcceptedLine(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
        line.count < 2 || line[1] != UInt8(ascii: "\t")
    }

    /// Decodes any state line without its newline; nil when it is malformed.
    public static func decodeLine(_ line: UnsafeBufferPointer<UInt8>) -> StateLine? {
        if isAcceptedLine(line) { return decode(line).map(StateLine.accepted) }
        switch line[0] {
        case UInt8(ascii: "A"): return decodeAttempts(UnsafeBufferPointer(rebasing: line[2...])).map(StateLine.attempts)
        case UInt8(ascii: "R"):
            return fileName(UnsafeBufferPointer(rebasing: line[2...])).map { StateLine.released(fileName: $0) }
        case UInt8(ascii: "B"):
            guard let count = StateLineCursor.integer(UnsafeBufferPointer(rebasing: line[2...])), count >= 0, count <= Int32.max else {
                return nil
            }
            return .consecutiveFailures(Int(count))
        default: return nil
        }
    }

    private static func decodeAttempts(_ line: UnsafeBufferPointer<UInt8>) -> DeliveryAttempts? {
        typealias Cursor = StateLineCursor
        var cursor = Cursor(line)
        guard let digestField = cursor.field(), let digest = EventDigest(hexBytes: digestField),
              let failures = cursor.field().flatMap(Cursor.integer), failures > 0,
              let rejections = cursor.field().flatMap(Cursor.integer), rejections >= 0,
              let quarantined = cursor.field().flatMap(Cursor.flag),
              let lastAttempt = cursor.field().flatMap(Cursor.integer),
              let nextAttempt = cursor.field().flatMap(Cursor.integer),
              let byteCount = cursor.field().flatMap(Cursor.integer), byteCount >= 0,
              let modificationTime = cursor.field().flatMap(Cursor.integer),
              let identityField = cursor.field(), let lastError = cursor.field(),
              let name = cursor.fileName() else { return nil }
        var identity: FileIdentity?
        if !Cursor.isDash(identityField) {
            guard let parsed = Cursor.identity(identityField) else { return nil }
            identity = parsed
        }
        let fingerprint = FileFingerprint(byteCount: byteCount,
                                          modificationTime: FileTime(nanosecondsSince1970: modificationTime),
                                          identity: identity)
        return DeliveryAttempts(fileName: String(decoding: name, as: UTF8.self), digest: digest, fingerprint: fingerprint,
                                failures: Int(failures), rejections: Int(rejections),
                                lastAttemptAt: FileTime(nanosecondsSince1970: lastAttempt),
                                nextAttemptAt: FileTime(nanosecondsSince1970: nextAttempt),
                                quarantined: quarantined, lastError: String(decoding: lastError, as: UTF8.self))
    }

    private static func fileName(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        StateLineCursor.isFileName(bytes) ? String(decoding: bytes, as: UTF8.self) : nil
    }

    /// Encodes a record as one line, newline included.
    public static func encode(_ record: ForwardRecord) -> String {
        var line = record.digest.hex
        line += "\t\(record.byteCount)\t\(record.hadReport ? 1 : 0)\t\(record.forwardedAt.nanosecondsSince1970)\t"
        if let fingerprint = record.fingerprint {
            line += "\(fingerprint.modificationTime.nanosecondsSince1970)\t"
            line += fingerprint.identity.map { "\($0.volume):\($0.file)" } ?? "-"
        } else {
            line += "-\t-"
        }
        line += "\t\(record.fileName)\n"
        return line
    }

    /// Decodes one line without its newline; nil when any field is malformed.
    public static func decode(_ line: UnsafeBufferPointer<UInt8>) -> ForwardRecord? {
        decodeFields(line).map(ForwardRecord.init)
    }

    /// Decodes an accepted record's line without its newline, its name left in the line's
    /// bytes; nil when any field is malformed. Allocates nothing.
    public static func decodeFields(_ line: UnsafeBufferPointer<UInt8>) -> ForwardRecordFields? {
        typealias Cursor = StateLineCursor
        var cursor = Cursor(line)
        guard let digest = cursor.digest(),
              let byteCount = cursor.integerField(), byteCount >= 0,
              let hadReport = cursor.field().flatMap(Cursor.flag),
              let forwardedAt = cursor.integerField(),
              let modificationTimeField = cursor.field(), let identityField = cursor.field(),
              let name = cursor.fileName() else { return nil }
        var modificationTime: FileTime?
        var identity: FileIdentity?
        if !Cursor.isDash(modificationTimeField) {
            guard let nanoseconds = Cursor.integer(modificationTimeField) else { return nil }
            modificationTime = FileTime(nanosecondsSince1970: nanoseconds)
            if !Cursor.isDash(identityField) {
                guard let parsed = Cursor.identity(identityField) else { return nil }
                identity = parsed
            }
        } else if !Cursor.isDash(identityField) {
            return nil
        }
        return ForwardRecordFields(digest: digest, byteCount: byteCount, hadReport: hadReport,
                                   forwardedAt: FileTime(nanosecondsSince1970: forwardedAt),
                                   modificationTime: modificationTime, identity: identity, fileNameUTF8: name)
    }
}

/// Why a state file could not be loaded; the message names the file and what to do.
public struct StateFileError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        case unreadable
        case unwritable
        case corruptLine(Int)
        /// A format-5 snapshot that is cut short, changed, or holds what no state can.
        case corruptSnapshot
        case unknownFormat
        case unsupportedVersion(String)
        case invalidVersionOneEntry(String)
        case lockedByAnotherProcess
    }

    public var path: String
    public var kind: Kind
    public var detail: String
    /// The OS error number of the failed call, when one failed (`ENOSPC`, `EROFS`, `EIO`…): it tells
    /// a disk that refuses for now from a path that can never work.
    public var errorNumber: Int32?

    public init(path: String, kind: Kind, detail: String, errorNumber: Int32? = nil) {
        self.path = path
        self.kind = kind
        self.detail = detail
        self.errorNumber = errorNumber
    }

    public var description: String {
        let advice: String
        switch kind {
        case .unreadable:
            advice = "check that the file exists and is readable by this user"
        case .unwritable:
            advice = "check free space and that this user may write the file and its folder"
        case .corruptLine(let line):
            advice = "line \(line) is damaged; restore the file from a backup, or move it aside and run "
                + "`event-forwarder seed-state` to rebuild it without re-uploading"
        case .corruptSnapshot:
            advice = "restore the file from a backup, or move it aside and run "
                + "`event-forwarder seed-state` to rebuild it without re-uploading"
        case .unknownFormat, .unsupportedVersion, .invalidVersionOneEntry:
            advice = "this is not a state file this forwarder can read; point --state elsewhere or move it aside"
        case .lockedByAnotherProcess:
            advice = "another event-forwarder is using this state; stop it or use another --state"
        }
        return "state file \(path): \(detail); \(advice)"
    }
}
