import ArgumentParser
import BlastwareFixtures
import Foundation

/// `forwarder-sim pack`: a folder into a gzip-compressed tar fixture.
struct PackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pack",
        abstract: "Pack a folder's contents into a .tar.gz fixture (POSIX ustar in gzip; GNU tar reads it).")

    @Argument(help: "The folder whose contents to pack.")
    var directory: String

    @Option(help: "The archive to write (replaced when it exists).")
    var into: String

    func run() throws {
        let summary = try FixtureArchive.pack(directory: directory, into: into)
        print("packed \(summary.fileCount) files, \(summary.directoryCount) folders, \(summary.byteCount) bytes into \(into)")
    }
}

/// `forwarder-sim unpack`: a gzip-compressed tar fixture into a folder.
struct UnpackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unpack",
        abstract: "Unpack a .tar.gz fixture into a folder, keeping names and modification times.")

    @Argument(help: "The archive to read (also what `tar -czf` writes).")
    var archive: String

    @Option(help: "The folder to unpack into; created when missing.")
    var into: String

    func run() throws {
        let summary = try FixtureArchive.unpack(archive: archive, into: into)
        var line = "unpacked \(summary.fileCount) files, \(summary.directoryCount) folders, \(summary.byteCount) bytes into \(into)"
        if summary.skippedEntryCount > 0 { line += " (skipped \(summary.skippedEntryCount) links or devices)" }
        print(line)
    }
}
