import ForwarderCore

/// `Retry-After` parsing: any header value either yields a wait the forwarder can act on or is
/// ignored, and the wait is never negative and never beyond the cap, whatever the clock says.
@_cdecl("LLVMFuzzerTestOneInput")
public func retryAfterFuzzInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let header = String(decoding: bytes, as: UTF8.self)
    guard let parsed = RetryAfter.parse(header) else { return 0 }
    switch parsed {
    case .delay(let delay):
        require(delay >= .zero && delay <= .seconds(1_000_000_000), "delay \(delay) from \(header.debugDescription)")
        let isWhitespace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 }
        let value = Array(header.utf8).drop(while: isWhitespace).reversed().drop(while: isWhitespace)
        require(!value.isEmpty && value.allSatisfy { (0x30...0x39).contains($0) }, "\(header.debugDescription) read as a delay")
    case .at(let time):
        _ = time.description
        require(header.contains("GMT") || header.utf8.count >= 24, "\(header.debugDescription) read as a date")
    }
    _ = parsed.description
    var reader = FuzzBytes(bytes)
    // Any clock a file time can hold, however wrong.
    let now = FileTime(nanosecondsSince1970: reader.int64())
    let longest = Duration.nanoseconds(reader.int(in: 0...Int64.max))
    let wait = parsed.wait(from: now, longest: longest)
    require(wait >= .zero && wait <= longest, "wait \(wait) from \(header.debugDescription) at \(now.nanosecondsSince1970) ns")
    return 0
}
