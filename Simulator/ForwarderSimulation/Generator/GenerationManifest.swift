import Foundation
import ForwarderCore

/// The truth about one generated event, so checkers need not parse the folder to know it.
public struct ManifestEntry: Codable, Hashable, Sendable {
    /// The binary's file name as written (lower case when a tool lower-cased it).
    public var binary: String
    /// SHA-256 of the binary, lower-case hex: the forwarder's state key.
    public var sha256: String
    public var byteCount: Int
    /// The report a forwarder should pair (the ACH name when both exist), or nil when none is written.
    public var report: String?
    /// Every report written for this event, the one that pairs first (the ACH name), case as
    /// written: what pairs with the binary, so checkers need no naming rule of their own.
    public var reportsWritten: [String]
    public var reportNaming: ReportNaming
    public var binaryModificationTimeNanoseconds: Int64
    /// Modification time of `report`, or nil when none is written.
    public var reportModificationTimeNanoseconds: Int64?
    /// The event time the name encodes, unit-local, e.g. `2025-12-09T11:00:56`.
    public var eventLocalTime: String
    /// `BE18190`.
    public var serial: String
    /// `waveform`, `histogram` or `manual`, as the name's extension says.
    public var kind: String

    /// The digest as the forwarder's core type.
    public var digest: EventDigest? { EventDigest(hex: sha256) }
    public var binaryModificationTime: FileTime { FileTime(nanosecondsSince1970: binaryModificationTimeNanoseconds) }
    public var reportModificationTime: FileTime? {
        reportModificationTimeNanoseconds.map { FileTime(nanosecondsSince1970: $0) }
    }
}

/// Builds, writes and reads the JSON-lines manifest of a generated folder.
///
/// Lines are written by hand in a fixed key order because encoding 100,000 entries through
/// `JSONEncoder` costs more than writing the folder's files; `read(from:)` decodes them with
/// `JSONDecoder`, and a test checks that both agree.
public enum GenerationManifest {
    /// The entry for `event`, whose binary bytes are `binary`.
    public static func entry(for event: PlannedEvent, binary: Data) -> ManifestEntry {
        let kind: String
        switch event.name.kind {
        case .waveform: kind = "waveform"
        case .histogram: kind = "histogram"
        case .manual, .other: kind = "manual"
        }
        let report = event.preferredReport
        return ManifestEntry(
            binary: event.binaryFileName, sha256: EventDigest(of: binary).hex, byteCount: binary.count,
            report: report?.name, reportsWritten: event.reportFiles.map(\.name), reportNaming: event.reportNaming,
            binaryModificationTimeNanoseconds: event.binaryFinish.nanosecondsSince1970,
            reportModificationTimeNanoseconds: report?.time.nanosecondsSince1970,
            eventLocalTime: event.name.localTime.description, serial: event.name.unitSerial, kind: kind)
    }

    /// One JSON object on one line, newline included.
    public static func jsonLine(_ entry: ManifestEntry) -> String {
        func quoted(_ text: String?) -> String {
            guard let text else { return "null" }
            var escaped = "\""
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\"": escaped += "\\\""
                case "\\": escaped += "\\\\"
                case _ where scalar.value < 0x20:
                    let hex = String(scalar.value, radix: 16)
                    escaped += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                default: escaped.unicodeScalars.append(scalar)
                }
            }
            return escaped + "\""
        }
        let reportTime = entry.reportModificationTimeNanoseconds.map(String.init) ?? "null"
        return "{\"binary\":\(quoted(entry.binary)),\"sha256\":\(quoted(entry.sha256)),"
            + "\"byteCount\":\(entry.byteCount),\"report\":\(quoted(entry.report)),"
            + "\"reportsWritten\":[\(entry.reportsWritten.map { quoted($0) }.joined(separator: ","))],"
            + "\"reportNaming\":\(quoted(entry.reportNaming.rawValue)),"
            + "\"binaryModificationTimeNanoseconds\":\(entry.binaryModificationTimeNanoseconds),"
            + "\"reportModificationTimeNanoseconds\":\(reportTime),"
            + "\"eventLocalTime\":\(quoted(entry.eventLocalTime)),\"serial\":\(quoted(entry.serial)),"
            + "\"kind\":\(quoted(entry.kind))}\n"
    }

    /// Writes `entries` as JSON lines to `path`, replacing it.
    public static func write(_ entries: [ManifestEntry], to path: String) throws {
        var text = ""
        text.reserveCapacity(entries.count * 330)
        for entry in entries { text += jsonLine(entry) }
        try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// Reads a manifest written by `write(_:to:)`.
    public static func read(from path: String) throws -> [ManifestEntry] {
        let decoder = JSONDecoder()
        return try Data(contentsOf: URL(fileURLWithPath: path)).split(separator: UInt8(ascii: "\n")).map { line in
            try decoder.decode(ManifestEntry.self, from: Data(line))
        }
    }
}

extension FolderPlan {
    /// The manifest of this plan's events, in download order (generates each binary once to hash it).
    public func manifest() -> [ManifestEntry] {
        events.map { GenerationManifest.entry(for: $0, binary: EventFileContents.binary(for: $0)) }
    }
}
