import BlastwareFixtures
import Foundation
import ForwarderCore
import ForwarderSimulation
import Testing

@Suite struct FixtureArchiveTests {
    typealias Support = GeneratorTestSupport

    /// Asserts both trees hold the same relative files with the same bytes and whole-second times.
    func expectSameTree(_ expected: String, _ actual: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let expectedFiles = Support.relativeFilePaths(in: expected)
        #expect(expectedFiles == Support.relativeFilePaths(in: actual), sourceLocation: sourceLocation)
        #expect(!expectedFiles.isEmpty, sourceLocation: sourceLocation)
        for file in expectedFiles {
            let expectedPath = "\(expected)/\(file)"
            let actualPath = "\(actual)/\(file)"
            #expect(try Data(contentsOf: URL(fileURLWithPath: expectedPath)) == Data(contentsOf: URL(fileURLWithPath: actualPath)),
                    "\(file)", sourceLocation: sourceLocation)
            let expectedSeconds = Support.modificationTime(of: expectedPath).map { $0.nanosecondsSince1970 / 1_000_000_000 }
            let actualSeconds = Support.modificationTime(of: actualPath).map { $0.nanosecondsSince1970 / 1_000_000_000 }
            #expect(expectedSeconds == actualSeconds, "\(file)", sourceLocation: sourceLocation)
        }
    }

    /// A small generated folder plus a big file and a deep long path, to exercise streaming and names.
    func makeSourceFolder(in root: String) throws -> String {
        let source = "\(root)/source"
        _ = try DirectoryFolderWriter(directoryPath: source).writeHistory(FolderPlanner.plan(FixtureSituation.reportsInBothNamings.options))
        var random = SeededRandom(seed: 99)
        var big = Data(count: 3 * 1024 * 1024 + 123)
        big.withUnsafeMutableBytes { buffer in
            for index in stride(from: 0, to: buffer.count - 8, by: 8) { buffer.storeBytes(of: random.next(), toByteOffset: index, as: UInt64.self) }
        }
        try big.write(to: URL(fileURLWithPath: "\(source)/BIG.BIN"))
        let deep = "\(source)/Archive/" + String(repeating: "nested-folder-name/", count: 5)
        try FileManager.default.createDirectory(atPath: deep, withIntermediateDirectories: true)
        try Data("deep".utf8).write(to: URL(fileURLWithPath: deep + String(repeating: "long-file-name-", count: 6) + ".txt"))
        return source
    }

    @Test("Archive: GNU tar extracts what pack writes")
    func gnuTarReadsPack() throws {
        let root = try Support.makeTemporaryFolder("pack")
        defer { Support.removeFolder(root) }
        let source = try makeSourceFolder(in: root)
        let summary = try FixtureArchive.pack(directory: source, into: "\(root)/fixture.tar.gz")
        #expect(summary.fileCount == Support.relativeFilePaths(in: source).count)
        try FileManager.default.createDirectory(atPath: "\(root)/extracted", withIntermediateDirectories: true)

        let result = try Support.runTar(["-xzf", "\(root)/fixture.tar.gz", "-C", "\(root)/extracted"])
        #expect(result.status == 0, "\(result.errorOutput)")
        #expect(result.errorOutput.isEmpty, "\(result.errorOutput)")
        try expectSameTree(source, "\(root)/extracted")
    }

    @Test("Archive: unpack reads what GNU tar writes")
    func unpackReadsGnuTar() throws {
        let root = try Support.makeTemporaryFolder("unpack")
        defer { Support.removeFolder(root) }
        let source = try makeSourceFolder(in: root)
        let result = try Support.runTar(["-czf", "\(root)/gnu.tar.gz", "-C", source, "."])
        #expect(result.status == 0, "\(result.errorOutput)")

        let summary = try FixtureArchive.unpack(archive: "\(root)/gnu.tar.gz", into: "\(root)/unpacked")
        #expect(summary.fileCount == Support.relativeFilePaths(in: source).count)
        try expectSameTree(source, "\(root)/unpacked")
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).sorted() == ["gnu.tar.gz", "source", "unpacked"])
    }

    @Test("Archive: pack then unpack round-trips with our own code, and pax-format tar is read too")
    func roundTrips() throws {
        let root = try Support.makeTemporaryFolder("round")
        defer { Support.removeFolder(root) }
        let source = try makeSourceFolder(in: root)
        try FixtureArchive.pack(directory: source, into: "\(root)/ours.tar.gz")
        try FixtureArchive.unpack(archive: "\(root)/ours.tar.gz", into: "\(root)/ours")
        try expectSameTree(source, "\(root)/ours")

        let result = try Support.runTar(["--format=pax", "-czf", "\(root)/pax.tar.gz", "-C", source, "."])
        #expect(result.status == 0, "\(result.errorOutput)")
        try FixtureArchive.unpack(archive: "\(root)/pax.tar.gz", into: "\(root)/pax")
        try expectSameTree(source, "\(root)/pax")
    }

    @Test("Archive: a corrupt archive is a clear error and leaves nothing behind")
    func corrupt() throws {
        let root = try Support.makeTemporaryFolder("corrupt")
        defer { Support.removeFolder(root) }
        let source = try makeSourceFolder(in: root)
        try FixtureArchive.pack(directory: source, into: "\(root)/good.tar.gz")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: "\(root)/good.tar.gz"))
        for offset in stride(from: bytes.count / 2, to: bytes.count / 2 + 64, by: 1) { bytes[offset] ^= 0x5A }
        try bytes.write(to: URL(fileURLWithPath: "\(root)/bad.tar.gz"))

        #expect {
            try FixtureArchive.unpack(archive: "\(root)/bad.tar.gz", into: "\(root)/out")
        } throws: { error in
            guard case .corruptArchive = error as? FixtureArchiveError else { return false }
            return "\(error)".contains("bad.tar.gz")
        }
        #expect(!FileManager.default.fileExists(atPath: "\(root)/out"))

        var trailerDamaged = try Data(contentsOf: URL(fileURLWithPath: "\(root)/good.tar.gz"))
        trailerDamaged[trailerDamaged.count - 6] ^= 0xFF
        try trailerDamaged.write(to: URL(fileURLWithPath: "\(root)/crc.tar.gz"))
        #expect {
            try FixtureArchive.unpack(archive: "\(root)/crc.tar.gz", into: "\(root)/out")
        } throws: { error in
            guard case .corruptArchive = error as? FixtureArchiveError else { return false }
            return true
        }
        #expect(!FileManager.default.fileExists(atPath: "\(root)/out"))

        try Data("not a gzip file at all".utf8).write(to: URL(fileURLWithPath: "\(root)/text.tar.gz"))
        #expect(throws: FixtureArchiveError.self) { try FixtureArchive.unpack(archive: "\(root)/text.tar.gz", into: "\(root)/out") }
        #expect(!FileManager.default.fileExists(atPath: "\(root)/out"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).sorted()
            == ["bad.tar.gz", "crc.tar.gz", "good.tar.gz", "source", "text.tar.gz"])
    }

    @Test("Archive: a truncated archive is a clear error and leaves nothing behind, even in an existing folder")
    func truncated() throws {
        let root = try Support.makeTemporaryFolder("truncated")
        defer { Support.removeFolder(root) }
        let source = try makeSourceFolder(in: root)
        try FixtureArchive.pack(directory: source, into: "\(root)/good.tar.gz")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: "\(root)/good.tar.gz"))
        try bytes.prefix(bytes.count * 2 / 3).write(to: URL(fileURLWithPath: "\(root)/cut.tar.gz"))
        try FileManager.default.createDirectory(atPath: "\(root)/out", withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: URL(fileURLWithPath: "\(root)/out/existing.txt"))

        #expect {
            try FixtureArchive.unpack(archive: "\(root)/cut.tar.gz", into: "\(root)/out")
        } throws: { error in
            guard case .truncatedArchive = error as? FixtureArchiveError else { return false }
            return true
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(root)/out") == ["existing.txt"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).sorted() == ["cut.tar.gz", "good.tar.gz", "out", "source"])
    }

    @Test("Archive: entries with absolute paths or '..' are refused")
    func unsafePaths() throws {
        let root = try Support.makeTemporaryFolder("unsafe")
        defer { Support.removeFolder(root) }
        try FileManager.default.createDirectory(atPath: "\(root)/inner", withIntermediateDirectories: true)
        try Data("escape".utf8).write(to: URL(fileURLWithPath: "\(root)/victim.txt"))

        #expect(try Support.runTar(["-czPf", "\(root)/absolute.tar.gz", "\(root)/victim.txt"]).status == 0)
        #expect(throws: FixtureArchiveError.unsafeEntryPath("\(root)/victim.txt")) {
            try FixtureArchive.unpack(archive: "\(root)/absolute.tar.gz", into: "\(root)/out")
        }
        #expect(try Support.runTar(["-czPf", "\(root)/climb.tar.gz", "-C", "\(root)/inner", "../victim.txt"]).status == 0)
        #expect(throws: FixtureArchiveError.unsafeEntryPath("../victim.txt")) {
            try FixtureArchive.unpack(archive: "\(root)/climb.tar.gz", into: "\(root)/inner/out")
        }
        #expect(!FileManager.default.fileExists(atPath: "\(root)/out"))
        #expect(!FileManager.default.fileExists(atPath: "\(root)/inner/out"))
    }

    @Test("Archive: packing a missing folder fails and leaves no partial archive")
    func packFailure() throws {
        let root = try Support.makeTemporaryFolder("pack-failure")
        defer { Support.removeFolder(root) }
        #expect(throws: FixtureArchiveError.self) {
            try FixtureArchive.pack(directory: "\(root)/missing", into: "\(root)/out.tar.gz")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).isEmpty)
    }

    @Test("Fixtures: each committed archive is exactly what the generator writes for its situation",
          arguments: FixtureSituation.all.map(\.name))
    func committedFixtures(name: String) throws {
        let situation = try #require(FixtureSituation.named(name))
        let archive = "\(Support.fixturesFolder())/\(situation.archiveFileName)"
        #expect(FileManager.default.fileExists(atPath: archive))
        let root = try Support.makeTemporaryFolder("fixture-\(name)")
        defer { Support.removeFolder(root) }
        try FixtureArchive.unpack(archive: archive, into: "\(root)/unpacked")
        let plan = FolderPlanner.plan(situation.options)
        let manifest = try DirectoryFolderWriter(directoryPath: "\(root)/generated").writeHistory(plan).manifest
        try expectSameTree("\(root)/generated", "\(root)/unpacked")

        let names = try FileManager.default.contentsOfDirectory(atPath: "\(root)/unpacked")
        let eventNames = names.filter { EventFileRules.isEventBinary($0) }
        #expect(Set(eventNames) == Set(manifest.map(\.binary)))
        switch situation {
        case .reportsInBothNamings:
            #expect(Set(manifest.map(\.reportNaming)).isSuperset(of: [.ach, .binaryTxt, .both]))
            #expect(eventNames.contains { $0 == $0.lowercased() })
        case .reportsMissing:
            #expect(manifest.filter { $0.report == nil }.count >= manifest.count / 4)
            #expect(manifest.contains { entry in
                guard let reportTime = entry.reportModificationTime else { return false }
                return reportTime - entry.binaryModificationTime > .seconds(60)
            })
        case .noiseOnly:
            #expect(eventNames.isEmpty)
            #expect(names.contains { $0.hasSuffix(".MLG") })
        default:
            Issue.record("no expectations for \(name)")
        }
    }
}
