import Foundation
import ForwarderCore

/// The bytes of generated files, regenerated exactly from a plan's seeds.
///
/// Binaries have the Series III shape of domain.md §4 (prefix, `Instantel`, type tag, `STRT`
/// record, body, footer) around a pseudo-random body, which makes every event's SHA-256 unique.
/// Bodies are filled eight bytes per generator draw because this is the generator's hot loop.
public enum EventFileContents {
    /// Type tag of Series III event files.
    static let eventTypeTag: [UInt8] = [0x00, 0x12, 0x03, 0x00]
    /// Type tag of Series III monitor-log files.
    static let monitorLogTypeTag: [UInt8] = [0x22, 0x01, 0x0E, 0xA0]
    static let footerByteCount = 26

    /// The 22-byte Series III header: fixed prefix, `Instantel\0`, `07 2c`, then the type tag.
    static func seriesIIIHeader(typeTag: [UInt8]) -> [UInt8] {
        [0x10, 0x00, 0x01, 0x80, 0x00, 0x00] + Array("Instantel".utf8) + [0x00, 0x07, 0x2C] + typeTag
    }

    /// The event binary's exact bytes.
    public static func binary(for event: PlannedEvent) -> Data {
        var bytes = Data(count: event.binaryByteCount)
        bytes.withUnsafeMutableBytes { buffer in fillBinary(for: event, into: buffer) }
        return bytes
    }

    /// Writes the binary of `event` into `buffer`, which holds exactly `event.binaryByteCount` bytes.
    static func fillBinary(for event: PlannedEvent, into buffer: UnsafeMutableRawBufferPointer) {
        var random = SeededRandom(seed: event.contentSeed).derived("binary")
        var offset = 0
        func put(_ bytes: [UInt8]) {
            for byte in bytes {
                buffer[offset] = byte
                offset += 1
            }
        }
        func putBigEndian(_ value: UInt32) {
            put([UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16),
                 UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)])
        }
        put(seriesIIIHeader(typeTag: eventTypeTag))
        let startSeconds = UInt32(clamping: event.name.secondsSince1985)
        let recordMilliseconds = UInt32(clamping: event.recording.recordDuration.wholeNanoseconds / 1_000_000)
        put(Array("STRT".utf8))
        putBigEndian(UInt32(clamping: event.name.serialNumber))
        putBigEndian(startSeconds)
        put([UInt8(truncatingIfNeeded: event.recording.samplesPerSecond >> 8),
             UInt8(truncatingIfNeeded: event.recording.samplesPerSecond)])
        putBigEndian(recordMilliseconds)
        put([UInt8(truncatingIfNeeded: event.contentSeed >> 16), UInt8(truncatingIfNeeded: event.contentSeed >> 8),
             UInt8(truncatingIfNeeded: event.contentSeed)])
        let footerStart = buffer.count - footerByteCount
        fillPseudoRandom(UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<footerStart]), random: &random)
        offset = footerStart
        putBigEndian(startSeconds)
        putBigEndian(startSeconds &+ recordMilliseconds / 1000)
        put([UInt8](repeating: 0, count: footerByteCount - 8))
    }

    /// Fills `buffer` from `random`, eight bytes per draw.
    static func fillPseudoRandom(_ buffer: UnsafeMutableRawBufferPointer, random: inout SeededRandom) {
        let count = buffer.count
        var offset = 0
        while offset + 8 <= count {
            buffer.storeBytes(of: random.next().littleEndian, toByteOffset: offset, as: UInt64.self)
            offset += 8
        }
        var last = random.next()
        while offset < count {
            buffer[offset] = UInt8(truncatingIfNeeded: last)
            last >>= 8
            offset += 1
        }
    }

    /// The ASCII report of `event` (the ACH report and a manual export have the same text).
    public static func report(for event: PlannedEvent, unit: GeneratedUnit) -> Data {
        Data(AsciiReportText(event: event, unit: unit).bytes())
    }

    /// The start of a unit's `.MLG`: Series III header, then the serial in ASCII within the first 2 KB.
    static func monitorLogPreamble(for unit: GeneratedUnit) -> [UInt8] {
        seriesIIIHeader(typeTag: monitorLogTypeTag)
            + Array("\r\nMonitor Log\r\nSerial Number: \(unit.unitSerial)\r\n".utf8)
    }

    /// The line a call-in session appends to the unit's `.MLG`.
    static func monitorLogLine(for session: MonitorLogSession) -> [UInt8] {
        Array("\(session.time) call-in \(session.eventCount) event(s)\r\n".utf8)
    }

    /// The whole `.MLG` of a unit after `sessions` (the unit's own, in time order).
    public static func monitorLog(for unit: GeneratedUnit, sessions: some Sequence<MonitorLogSession>) -> Data {
        var bytes = monitorLogPreamble(for: unit)
        for session in sessions { bytes += monitorLogLine(for: session) }
        return Data(bytes)
    }

    /// The bytes of a noise file.
    public static func noise(_ content: PlannedNoiseFile.Content) -> Data {
        switch content {
        case .empty:
            return Data()
        case .text(let text):
            return Data(text.utf8)
        case .pseudoRandom(let header, let byteCount, let seed):
            var bytes = Data(count: max(byteCount, header.count))
            bytes.withUnsafeMutableBytes { buffer in
                for (index, byte) in header.enumerated() { buffer[index] = byte }
                var random = SeededRandom(seed: seed)
                fillPseudoRandom(UnsafeMutableRawBufferPointer(rebasing: buffer[header.count...]), random: &random)
            }
            return bytes
        }
    }
}

extension FolderPlan {
    /// The unit that recorded `event`.
    public func unit(of event: PlannedEvent) -> GeneratedUnit { units[event.unitIndex] }

    /// The exact bytes of `event`'s binary.
    public func binaryContents(of event: PlannedEvent) -> Data { EventFileContents.binary(for: event) }

    /// The exact bytes of `event`'s report (both namings carry the same text).
    public func reportContents(of event: PlannedEvent) -> Data {
        EventFileContents.report(for: event, unit: units[event.unitIndex])
    }

    /// Each unit with call-ins, its `.MLG` name, final bytes and final modification time.
    public func finalMonitorLogs() -> [(name: String, contents: Data, modificationTime: FileTime)] {
        var sessionsByUnit = [[MonitorLogSession]](repeating: [], count: units.count)
        for session in monitorLogSessions { sessionsByUnit[session.unitIndex].append(session) }
        return units.indices.compactMap { index in
            guard let last = sessionsByUnit[index].last else { return nil }
            let unit = units[index]
            return (unit.monitorLogName, EventFileContents.monitorLog(for: unit, sessions: sessionsByUnit[index]),
                    last.time)
        }
    }
}
