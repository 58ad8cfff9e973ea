import ForwarderCore

/// Format-5 snapshots (`BinaryStateSnapshot`): any bytes decode to a table or to `Damage`, never
/// a trap; whatever decodes encodes again to a snapshot that decodes to the same records and
/// lines; and every table the forwarder can hold survives encoding and decoding.
///
/// The input is also tried behind a format-5 header line with its sums made right (computed
/// here, not by the codec), so that mutations reach the checks of rows and names rather than
/// stopping at the checksum.
func checkBinarySnapshot(_ input: UnsafeBufferPointer<UInt8>) {
    checkDecoded(Array(input))
    var framed = Array(BinaryStateSnapshot.headerLine.utf8) + Array(input)
    framed += [UInt8](repeating: 0, count: (8 - framed.count % 8) % 8)
    checkDecoded(framed + fletcherTrailer(framed))
}

/// Tables and lines drawn from the fuzzer's bytes, encoded and decoded.
func checkBinarySnapshotRoundTrip(_ reader: inout FuzzBytes) {
    var table = CompactRecordTable()
    var lines: [StateLine] = []
    for _ in 0..<Int(reader.byte() % 6) {
        switch generatedLine(&reader) {
        case .accepted(let record): table.store(record)
        case .attempts(let attempts): lines.append(storedForm(.attempts(attempts)))
        case .consecutiveFailures(let count): lines.append(.consecutiveFailures(count))
        case .released: break
        }
    }
    let bytes = encodedSnapshot(table, lines: lines)
    do {
        let decoded = try decodedSnapshot(bytes)
        require(allRecords(decoded.table) == allRecords(table), "records changed in a round trip: \(allRecords(table))")
        require(decoded.lines == lines, "lines changed in a round trip: \(lines) became \(decoded.lines)")
    } catch {
        require(false, "the encoder wrote a snapshot its decoder refuses (\(error)) for \(allRecords(table)), \(lines)")
    }
}

private func checkDecoded(_ bytes: [UInt8]) {
    guard let decoded = try? decodedSnapshot(bytes) else { return }
    let records = allRecords(decoded.table)
    require(Set(records.map(\.digest)).count == records.count, "two records share a digest: \(records)")
    for record in records {
        require(StateRecordCodec.isStorableFileName(record.fileName), "loaded a name a state cannot hold: \(record)")
        require(decoded.table.record(for: record.digest) == record, "\(record) is not found by its digest")
        require(decoded.table.record(forName: record.fileName)?.fileName == record.fileName, "\(record) is not found by its name")
    }
    for line in decoded.lines {
        switch line {
        case .attempts, .consecutiveFailures: break
        case .accepted, .released: require(false, "a snapshot's lines hold \(line)")
        }
    }
    do {
        let again = try decodedSnapshot(encodedSnapshot(decoded.table, lines: decoded.lines))
        require(allRecords(again.table) == records, "records changed when encoded again")
        require(again.lines == decoded.lines, "lines changed when encoded again")
    } catch {
        require(false, "a loaded snapshot encodes to one its decoder refuses: \(error)")
    }
}

private func encodedSnapshot(_ table: CompactRecordTable, lines: [StateLine]) -> [UInt8] {
    var bytes: [UInt8] = []
    BinaryStateSnapshot.encode(table, lines: lines) { bytes.append(contentsOf: $0) }
    return bytes
}

private struct ReadPastEnd: Error {}

private func decodedSnapshot(_ bytes: [UInt8]) throws -> BinaryStateSnapshot.Decoded {
    var offset = 0
    return try BinaryStateSnapshot.decode(byteCount: bytes.count) { buffer in
        guard offset + buffer.count <= bytes.count else { throw ReadPastEnd() }
        bytes.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + buffer.count)])) }
        offset += buffer.count
    }
}

private func allRecords(_ table: CompactRecordTable) -> [ForwardRecord] {
    var records: [ForwardRecord] = []
    table.forEach { records.append($0) }
    return records
}

/// The format's trailer for `bytes` (a multiple of 8 long), as its documentation states it:
/// `a += word, b += a` over the little-endian 64-bit words, wrapping; `a` then `b`.
private func fletcherTrailer(_ bytes: [UInt8]) -> [UInt8] {
    var a: UInt64 = 0
    var b: UInt64 = 0
    for start in stride(from: 0, to: bytes.count, by: 8) {
        let word = bytes[start..<(start + 8)].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        a &+= word
        b &+= a
    }
    return (0..<8).map { UInt8(truncatingIfNeeded: a >> (8 * $0)) } + (0..<8).map { UInt8(truncatingIfNeeded: b >> (8 * $0)) }
}
