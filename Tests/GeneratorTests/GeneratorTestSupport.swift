import Crypto
import Foundation
import ForwarderCore
import ForwarderSimulation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Shared givens for the generator tests: fixed starts, temporary folders, folder digests.
enum GeneratorTestSupport {
    /// Midnight UTC on Monday 2026-05-04.
    static let start = FileTime(secondsSince1970: 1_777_852_800)

    static func options(seed: UInt64, profile: FolderProfile = .mixed, events: Int? = nil, units: Int? = nil,
                        days: Int? = nil) -> FolderGenerationOptions {
        FolderGenerationOptions(seed: seed, profile: profile, unitCount: units, dayCount: days, eventCount: events,
                                startTime: start)
    }

    /// A new empty folder under the system's temporary directory; remove it with `removeFolder`.
    static func makeTemporaryFolder(_ label: String) throws -> String {
        let path = NSTemporaryDirectory() + "generator-tests-\(label)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func removeFolder(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// `Tests/Fixtures`, found from this file's path so tests run from any working directory.
    static func fixturesFolder(filePath: String = #filePath) -> String {
        URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures").path
    }

    /// A file's modification time with nanoseconds, from `stat`.
    static func modificationTime(of path: String) -> FileTime? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        return FileTime(secondsSince1970: Int64(status.st_mtim.tv_sec), nanoseconds: Int64(status.st_mtim.tv_nsec))
    }

    /// Every file below `path`, relative, sorted.
    static func relativeFilePaths(in path: String) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: path) else { return [] }
        var files: [String] = []
        while let relative = enumerator.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: "\(path)/\(relative)", isDirectory: &isDirectory), !isDirectory.boolValue {
                files.append(relative)
            }
        }
        return files.sorted()
    }

    /// One digest of a directory tree: names, contents and modification times (to `timeResolution`).
    static func directoryDigest(_ path: String, timeResolutionNanoseconds: Int64 = 1) throws -> String {
        var hasher = SHA256()
        for relative in relativeFilePaths(in: path) {
            let full = "\(path)/\(relative)"
            let contents = try Data(contentsOf: URL(fileURLWithPath: full))
            let time = (modificationTime(of: full)?.nanosecondsSince1970 ?? -1) / timeResolutionNanoseconds
            hasher.update(data: Data("\(relative)|\(contents.count)|\(time)|".utf8))
            hasher.update(data: contents)
        }
        return EventDigest(hasher.finalize()).hex
    }

    /// One digest of a folder seam's listing and contents (identities left out).
    static func folderDigest(_ folder: some EventFolder) throws -> String {
        var hasher = SHA256()
        for entry in try folder.listEntries() {
            hasher.update(data: Data("\(entry.name)|\(entry.kind)|\(entry.byteCount)|\(entry.modificationTime.nanosecondsSince1970)|".utf8))
            if entry.kind == .regularFile { hasher.update(data: try folder.readContents(of: entry.name)) }
        }
        return EventDigest(hasher.finalize()).hex
    }

    /// The report's lines without their CRLF.
    static func lines(of report: Data) -> [String] {
        String(decoding: report, as: UTF8.self).components(separatedBy: "\r\n")
    }

    /// The label of a quoted `"Label : Value"` line (split at the first ` : `), or nil.
    static func label(of line: String) -> String? {
        guard line.hasPrefix("\""), let separator = line.range(of: " : ") else { return nil }
        return String(line[line.index(after: line.startIndex)..<separator.lowerBound])
    }

    /// The value of a quoted `"Label : Value"` line.
    static func value(of line: String) -> String? {
        guard line.hasPrefix("\""), line.hasSuffix("\""), let separator = line.range(of: " : ") else { return nil }
        return String(line[separator.upperBound..<line.index(before: line.endIndex)])
    }

    /// Runs `/usr/bin/env tar` with `arguments`; returns its exit status and standard error.
    static func runTar(_ arguments: [String]) throws -> (status: Int32, errorOutput: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["tar"] + arguments
        let errorPipe = Pipe()
        process.standardError = errorPipe
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let errorData = errorPipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: errorData, as: UTF8.self))
    }
}
