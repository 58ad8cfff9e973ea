import ForwarderCore

/// The event-name parser: a name it decodes re-renders to the same name (upper-cased), agrees
/// with the folder's event-binary rule, and the calendar time it carries converts back.
@_cdecl("LLVMFuzzerTestOneInput")
public func eventNameFuzzInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let name = String(decoding: bytes, as: UTF8.self)
    let parsed = BlastwareEventName(parsing: name)
    let isBinary = EventFileRules.isEventBinary(name)
    let upper = EventFileRules.caseFoldedKey(name)
    if let parsed {
        require(parsed.fileName == upper, "\(name.debugDescription) parsed and re-rendered as \(parsed.fileName)")
        require(BlastwareEventName(parsing: parsed.fileName) == parsed, "the re-rendered \(parsed.fileName) parses differently")
        require(isBinary || EventFileRules.excludedExtensions.contains(parsed.fileExtension),
                "\(name.debugDescription) parses as an event name but the folder rule does not take it")
        require((0...24_999).contains(parsed.serialNumber), "serial \(parsed.serialNumber) out of range for \(name)")
        require((0...BlastwareEventName.maximumSecondsSince1985).contains(parsed.secondsSince1985),
                "time \(parsed.secondsSince1985) out of range for \(name)")
        require(parsed.localTime.secondsSince1985 == parsed.secondsSince1985,
                "calendar time \(parsed.localTime) does not convert back for \(name)")
        if case .unrecognised = parsed.kind {} else {
            require(BlastwareEventName(serialNumber: parsed.serialNumber, secondsSince1985: parsed.secondsSince1985,
                                       kind: parsed.kind)?.fileName == (parsed.extensionFlag == "0" ? upper : nil)
                        || parsed.extensionFlag != "0",
                    "building \(name)'s serial and time does not give the name back")
        }
    } else if isBinary {
        // The folder rule is looser on purpose: prefix letter `A` is a shape match but not a serial.
        require(upper.hasPrefix("A"), "\(name.debugDescription) is an event binary the name parser refuses")
    }
    if EventFileRules.isReportName(name) {
        require(!isBinary, "\(name.debugDescription) is both a report and an event binary")
    }
    for report in EventFileRules.reportNames(forBinary: name) {
        require(EventFileRules.isReportName(report) || !name.utf8.allSatisfy({ $0 < 0x80 }),
                "report name \(report.debugDescription) for \(name.debugDescription) is not a report name")
    }
    var reader = FuzzBytes(UnsafeBufferPointer(start: data, count: size))
    let serial = Int(reader.int(in: 0...24_999))
    let seconds = Int(reader.int(in: 0...Int64(BlastwareEventName.maximumSecondsSince1985)))
    let kinds: [BlastwareEventName.Kind] = [.waveform, .histogram, .manual]
    let kind = kinds[Int(reader.byte()) % kinds.count]
    let built = BlastwareEventName(serialNumber: serial, secondsSince1985: seconds, kind: kind)
    require(built != nil, "serial \(serial) and time \(seconds) are in range but build no name")
    if let built {
        require(BlastwareEventName(parsing: built.fileName) == built, "built name \(built.fileName) does not parse back")
        require(EventFileRules.isEventBinary(built.fileName) || EventFileRules.excludedExtensions.contains(built.fileExtension),
                "built name \(built.fileName) is not an event binary")
    }
    return 0
}
