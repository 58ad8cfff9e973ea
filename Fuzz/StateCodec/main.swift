import ForwarderCore

/// The state codec: every line it decodes survives a round trip, every line it refuses breaks
/// the written format, and every value the forwarder can hold encodes to a line that decodes to
/// it; the same for format-5 snapshots (`BinarySnapshot.swift`).
@_cdecl("LLVMFuzzerTestOneInput")
public func stateCodecFuzzInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeBufferPointer(start: data, count: size)
    var lineStart = 0
    for index in 0...size where index == size || input[index] == UInt8(ascii: "\n") {
        checkLine(UnsafeBufferPointer(rebasing: input[lineStart..<index]))
        lineStart = index + 1
    }
    var reader = FuzzBytes(input)
    checkEncodedRoundTrip(generatedLine(&reader))
    checkVersionOneImport(input)
    checkBinarySnapshot(input)
    checkBinarySnapshotRoundTrip(&reader)
    return 0
}

/// The version-1 importer on any bytes: it never traps, every record it hands out can be
/// stored, and the compact table then finds the last record of each digest by its digest.
private func checkVersionOneImport(_ input: UnsafeBufferPointer<UInt8>) {
    var table = CompactRecordTable()
    var lastByDigest: [EventDigest: ForwardRecord] = [:]
    try? VersionOneState.parse(input) { record in
        require(StateRecordCodec.isStorableFileName(record.fileName), "imported a name a state line cannot hold: \(record)")
        table.store(record)
        lastByDigest[record.digest] = record
    }
    require(table.count == lastByDigest.count, "the table holds \(table.count) records for \(lastByDigest.count) digests")
    for (digest, record) in lastByDigest {
        require(table.record(for: digest) == record, "the table lost \(record)")
    }
}

/// A line from the input: decoded exactly when the reference reading accepts it, and then
/// re-encoded to a line that decodes to the same value.
private func checkLine(_ line: UnsafeBufferPointer<UInt8>) {
    let decoded = StateRecordCodec.decodeLine(line)
    let reference = ReferenceStateLine.accepts(Array(line))
    require((decoded != nil) == reference,
            "codec \(decoded == nil ? "refused" : "accepted") a line the format \(reference ? "allows" : "forbids"): "
                + "\(Array(line))")
    guard let decoded else { return }
    let reencoded = StateRecordCodec.encode(decoded)
    require(reencoded.utf8.last == UInt8(ascii: "\n") && reencoded.utf8.filter({ $0 == UInt8(ascii: "\n") }).count == 1,
            "encoded line is not exactly one line: \(reencoded.debugDescription)")
    let again = Array(reencoded.utf8.dropLast()).withUnsafeBufferPointer { StateRecordCodec.decodeLine($0) }
    require(again == storedForm(decoded), "decode(encode(x)) != x for \(decoded): \(String(describing: again))")
    renderTimes(decoded)
}

/// Values the forwarder can hold, encoded and decoded.
private func checkEncodedRoundTrip(_ line: StateLine) {
    let encoded = StateRecordCodec.encode(line)
    let decoded = Array(encoded.utf8.dropLast()).withUnsafeBufferPointer { StateRecordCodec.decodeLine($0) }
    require(decoded == storedForm(line), "decode(encode(x)) != x for \(line): \(String(describing: decoded))")
}

/// The value as a state line keeps it: the last error flattened to one line.
func storedForm(_ line: StateLine) -> StateLine {
    guard case .attempts(var attempts) = line else { return line }
    attempts.lastError = RetryPlanner.oneLine(attempts.lastError)
    return .attempts(attempts)
}

/// Status and logs print the times of whatever loads.
private func renderTimes(_ line: StateLine) {
    switch line {
    case .accepted(let record):
        _ = record.forwardedAt.description
        _ = record.fingerprint?.modificationTime.description
    case .attempts(let attempts):
        _ = attempts.lastAttemptAt.description
        _ = attempts.nextAttemptAt.description
        _ = attempts.fingerprint.modificationTime.description
    case .released, .consecutiveFailures:
        break
    }
}

/// A line the forwarder could write: any times, counts and identities it can hold, any storable name.
func generatedLine(_ reader: inout FuzzBytes) -> StateLine {
    let digest = EventDigest(hex: (0..<4).map { _ in hex16(reader.uint64()) }.joined())!
    var fileName = reader.text(maximumLength: 40)
    if !StateRecordCodec.isStorableFileName(fileName) { fileName = "T190LD5Q.LK0W" }
    let byteCount = reader.int(in: 0...Int64.max)
    let identity = reader.bool() ? FileIdentity(volume: reader.uint64(), file: reader.uint64()) : nil
    let fingerprint = FileFingerprint(byteCount: byteCount, modificationTime: FileTime(nanosecondsSince1970: reader.int64()),
                                      identity: identity)
    switch reader.byte() % 4 {
    case 0:
        return .accepted(ForwardRecord(digest: digest, fileName: fileName, byteCount: byteCount, hadReport: reader.bool(),
                                       forwardedAt: FileTime(nanosecondsSince1970: reader.int64()),
                                       fingerprint: reader.bool() ? fingerprint : nil))
    case 1:
        return .attempts(DeliveryAttempts(
            fileName: fileName, digest: digest, fingerprint: fingerprint,
            failures: Int(reader.int(in: 1...Int64.max)), rejections: Int(reader.int(in: 0...Int64.max)),
            lastAttemptAt: FileTime(nanosecondsSince1970: reader.int64()),
            nextAttemptAt: FileTime(nanosecondsSince1970: reader.int64()),
            quarantined: reader.bool(), lastError: reader.text(maximumLength: 120)))
    case 2:
        return .released(fileName: fileName)
    default:
        return .consecutiveFailures(Int(reader.int(in: 0...Int64(Int32.max))))
    }
}

private func hex16(_ value: UInt64) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
}

/// The line format as the codec's documentation states it, read with the standard library's
/// own number parsing: an independent judge of which lines are well formed.
private enum ReferenceStateLine {
    static func accepts(_ line: [UInt8]) -> Bool {
        if line.count >= 2, line[1] == UInt8(ascii: "\t") {
            let rest = Array(line[2...])
            switch line[0] {
            case UInt8(ascii: "A"): return acceptsAttempts(rest)
            case UInt8(ascii: "R"): return isName(rest)
            case UInt8(ascii: "B"): return integer(rest).map { (0...Int64(Int32.max)).contains($0) } ?? false
            default: return false
            }
        }
        let fields = line.split(separator: UInt8(ascii: "\t"), maxSplits: 6, omittingEmptySubsequences: false).map(Array.init)
        guard fields.count == 7, isDigest(fields[0]), let byteCount = integer(fields[1]), byteCount >= 0,
              isFlag(fields[2]), integer(fields[3]) != nil, isName(fields[6]) else { return false }
        if fields[4] == [UInt8(ascii: "-")] { return fields[5] == [UInt8(ascii: "-")] }
        return integer(fields[4]) != nil && (fields[5] == [UInt8(ascii: "-")] || isIdentity(fields[5]))
    }

    private static func acceptsAttempts(_ line: [UInt8]) -> Bool {
        let fields = line.split(separator: UInt8(ascii: "\t"), maxSplits: 10, omittingEmptySubsequences: false).map(Array.init)
        guard fields.count == 11, isDigest(fields[0]), let failures = integer(fields[1]), failures > 0,
              let rejections = integer(fields[2]), rejections >= 0, isFlag(fields[3]),
              integer(fields[4]) != nil, integer(fields[5]) != nil,
              let byteCount = integer(fields[6]), byteCount >= 0, integer(fields[7]) != nil,
              fields[8] == [UInt8(ascii: "-")] || isIdentity(fields[8]) else { return false }
        return isName(fields[10])
    }

    /// A decimal Int64 as the standard library reads it, without a `+` sign, in at most 20 characters.
    private static func integer(_ field: [UInt8]) -> Int64? {
        guard field.count <= 20, field.first != UInt8(ascii: "+") else { return nil }
        return Int64(String(decoding: field, as: UTF8.self))
    }

    private static func isDigest(_ field: [UInt8]) -> Bool {
        field.count == 64 && field.allSatisfy { UInt8(String(UnicodeScalar($0)), radix: 16) != nil }
    }

    private static func isFlag(_ field: [UInt8]) -> Bool { field == [UInt8(ascii: "0")] || field == [UInt8(ascii: "1")] }

    private static func isIdentity(_ field: [UInt8]) -> Bool {
        let parts = field.split(separator: UInt8(ascii: ":"), maxSplits: 1, omittingEmptySubsequences: false)
        return parts.count == 2 && parts.allSatisfy { part in
            part.count <= 20 && part.first != UInt8(ascii: "+") && UInt64(String(decoding: part, as: UTF8.self)) != nil
        }
    }

    private static func isName(_ field: [UInt8]) -> Bool {
        !field.isEmpty && !field.contains(UInt8(ascii: "\t")) && String(validating: field, as: UTF8.self) != nil
    }
}
