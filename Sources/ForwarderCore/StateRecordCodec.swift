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
/// files of versions 2 and 3 are read as they are.
public enum StateRecordCodec {
    /// The first line of a snapshot and of a journal.
    public static let header = "BLASTWARE-FORWARDER-STATE 4"
    /// Headers of files this version reads: its own, version 3 (no breaker line) and version 2
    /// (accepted lines only).
    public static let readableHeaders: Set<String> = [header, "BLASTWARE-FORWARDER-STATE 3",
                                                      "BLASTWARE-FORWARDER-STATE 2"]
    /// The versions `readableHeaders` names, for messages.
    public static let readableVersions = "2, 3 and 4"

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

    /// Decodes any state line without its newline; nil when it is malformed.
    public static func decodeLine(_ line: UnsafeBufferPointer<UInt8>) -> StateLine? {
        guard line.count >= 2, line[1] == UInt8(ascii: "\t") else {
            return decode(line).map(StateLine.accepted)
        }
        switch line[0] {
        case UInt8(ascii: "A"): return decodeAttempts(UnsafeBufferPointer(rebasing: line[2...])).map(StateLine.attempts)
        case UInt8(ascii: "R"):
            return fileName(UnsafeBufferPointer(rebasing: line[2...])).map { StateLine.released(fileName: $0) }
        case UInt8(ascii: "B"):
            guard let count = integer(UnsafeBufferPointer(rebasing: line[2...])), count >= 0, count <= Int32.max else {
                return nil
            }
            return .consecutiveFailures(Int(count))
        default: return nil
        }
    }

    private static func decodeAttempts(_ line: UnsafeBufferPointer<UInt8>) -> DeliveryAttempts? {
        let fields = split(line, fieldCount: 11)
        guard fields.count == 11, let digest = EventDigest(hexBytes: fields[0]),
              let failures = integer(fields[1]), failures > 0, let rejections = integer(fields[2]), rejections >= 0,
              fields[3].count == 1, fields[3][0] == UInt8(ascii: "0") || fields[3][0] == UInt8(ascii: "1"),
              let lastAttempt = integer(fields[4]), let nextAttempt = integer(fields[5]),
              let byteCount = integer(fields[6]), byteCount >= 0, let modificationTime = integer(fields[7]),
              let name = fileName(fields[10]) else { return nil }
        var identity: FileIdentity?
        if !isDash(fields[8]) {
            guard let parsed = Self.identity(fields[8]) else { return nil }
            identity = parsed
        }
        let fingerprint = FileFingerprint(byteCount: byteCount,
                                          modificationTime: FileTime(nanosecondsSince1970: modificationTime),
                                          identity: identity)
        return DeliveryAttempts(fileName: name, digest: digest, fingerprint: fingerprint, failures: Int(failures),
                                rejections: Int(rejections), lastAttemptAt: FileTime(nanosecondsSince1970: lastAttempt),
                                nextAttemptAt: FileTime(nanosecondsSince1970: nextAttempt),
                                quarantined: fields[3][0] == UInt8(ascii: "1"),
                                lastError: String(decoding: fields[9], as: UTF8.self))
    }

    /// The first `fieldCount - 1` tab-separated fields, then the rest of the line as the last.
    private static func split(_ line: UnsafeBufferPointer<UInt8>, fieldCount: Int) -> [UnsafeBufferPointer<UInt8>] {
        var fields: [UnsafeBufferPointer<UInt8>] = []
        fields.reserveCapacity(fieldCount)
        var start = 0
        for index in 0..<line.count where line[index] == UInt8(ascii: "\t") {
            fields.append(UnsafeBufferPointer(rebasing: line[start..<index]))
            start = index + 1
            if fields.count == fieldCount - 1 { break }
        }
        guard fields.count == fieldCount - 1 else { return [] }
        fields.append(UnsafeBufferPointer(rebasing: line[start...]))
        return fields
    }

    private static func fileName(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        guard !bytes.isEmpty, !bytes.contains(UInt8(ascii: "\t")) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func identity(_ field: UnsafeBufferPointer<UInt8>) -> FileIdentity? {
        guard let colon = field.firstIndex(of: UInt8(ascii: ":")),
              let volume = unsigned(UnsafeBufferPointer(rebasing: field[..<colon])),
              let file = unsigned(UnsafeBufferPointer(rebasing: field[(colon + 1)...])) else { return nil }
        return FileIdentity(volume: volume, file: file)
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
        var fields: [UnsafeBufferPointer<UInt8>] = []
        fields.reserveCapacity(7)
        var start = 0
        for index in 0..<line.count where line[index] == UInt8(ascii: "\t") {
            if fields.count == 6 { break }
            fields.append(UnsafeBufferPointer(rebasing: line[start..<index]))
            start = index + 1
        }
        guard fields.count == 6, start < line.count else { return nil }
        let nameBytes = UnsafeBufferPointer(rebasing: line[start...])
        guard let digest = EventDigest(hexBytes: fields[0]),
              let byteCount = integer(fields[1]), byteCount >= 0,
              fields[2].count == 1, fields[2][0] == UInt8(ascii: "0") || fields[2][0] == UInt8(ascii: "1"),
              let forwardedAt = integer(fields[3]) else { return nil }
        var fingerprint: FileFingerprint?
        if !isDash(fields[4]) {
            guard let modificationTime = integer(fields[4]) else { return nil }
            var identity: FileIdentity?
            if !isDash(fields[5]) {
                guard let parsed = Self.identity(fields[5]) else { return nil }
                identity = parsed
            }
            fingerprint = FileFingerprint(byteCount: byteCount,
                                          modificationTime: FileTime(nanosecondsSince1970: modificationTime),
                                          identity: identity)
        } else if !isDash(fields[5]) {
            return nil
        }
        guard let fileName = fileName(nameBytes) else { return nil }
        return ForwardRecord(digest: digest, fileName: fileName, byteCount: byteCount,
                             hadReport: fields[2][0] == UInt8(ascii: "1"),
                             forwardedAt: FileTime(nanosecondsSince1970: forwardedAt), fingerprint: fingerprint)
    }

    private static func isDash(_ field: UnsafeBufferPointer<UInt8>) -> Bool {
        field.count == 1 && field[0] == UInt8(ascii: "-")
    }

    private static func integer(_ field: UnsafeBufferPointer<UInt8>) -> Int64? {
        guard !field.isEmpty, field.count <= 20 else { return nil }
        var negative = false
        var digits = field[...]
        if field[0] == UInt8(ascii: "-") {
            negative = true
            digits = digits.dropFirst()
            guard !digits.isEmpty else { return nil }
        }
        var value: Int64 = 0
        for byte in digits {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            let (multiplied, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (added, overflow2) = multiplied.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { return nil }
            value = added
        }
        return negative ? -value : value
    }

    private static func unsigned(_ field: UnsafeBufferPointer<UInt8>) -> UInt64? {
        guard !field.isEmpty, field.count <= 20 else { return nil }
        var value: UInt64 = 0
        for byte in field {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            let (multiplied, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (added, overflow2) = multiplied.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { return nil }
            value = added
        }
        return value
    }
}

/// Why a state file could not be loaded; the message names the file and what to do.
public struct StateFileError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        case unreadable
        case unwritable
        case corruptLine(Int)
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
        case .unknownFormat, .unsupportedVersion, .invalidVersionOneEntry:
            advice = "this is not a state file this forwarder can read; point --state elsewhere or move it aside"
        case .lockedByAnotherProcess:
            advice = "another event-forwarder is using this state; stop it or use another --state"
        }
        return "state file \(path): \(detail); \(advice)"
    }
}
