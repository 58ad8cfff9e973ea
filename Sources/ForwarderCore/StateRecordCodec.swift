/// The line format of the forwarding state: one accepted binary per line, tab-separated.
///
/// `digest  byteCount  hadReport  forwardedAtNs  mtimeNs|-  volume:file|-  fileName`
///
/// A hand-parsed line format rather than JSON because a million records must load in well under
/// two seconds, and because a torn last line is easy to recognise (no newline, or a bad field).
public enum StateRecordCodec {
    /// The first line of a snapshot and of a journal.
    public static let header = "BLASTWARE-FORWARDER-STATE 2"

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
                guard let colon = fields[5].firstIndex(of: UInt8(ascii: ":")),
                      let volume = unsigned(UnsafeBufferPointer(rebasing: fields[5][..<colon])),
                      let file = unsigned(UnsafeBufferPointer(rebasing: fields[5][(colon + 1)...])) else { return nil }
                identity = FileIdentity(volume: volume, file: file)
            }
            fingerprint = FileFingerprint(byteCount: byteCount,
                                          modificationTime: FileTime(nanosecondsSince1970: modificationTime),
                                          identity: identity)
        } else if !isDash(fields[5]) {
            return nil
        }
        guard !nameBytes.contains(UInt8(ascii: "\t")), let fileName = String(validating: nameBytes, as: UTF8.self) else {
            return nil
        }
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

    public init(path: String, kind: Kind, detail: String) {
        self.path = path
        self.kind = kind
        self.detail = detail
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
