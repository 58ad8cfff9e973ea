import Foundation
import ForwarderCore
import ForwarderSimulation
import Testing

@Suite struct ManifestTests {
    typealias Support = GeneratorTestSupport

    @Test("Manifest: the JSON lines read back as the entries written")
    func roundTrip() throws {
        let manifest = FolderPlanner.plan(Support.options(seed: 31, events: 400)).manifest()
        #expect(manifest.contains { $0.report == nil })
        let folder = try Support.makeTemporaryFolder("manifest")
        defer { Support.removeFolder(folder) }
        let path = "\(folder)/manifest.jsonl"
        try GenerationManifest.write(manifest, to: path)

        #expect(try GenerationManifest.read(from: path) == manifest)
        let firstLine = try #require(String(decoding: Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
            .split(separator: "\n").first)
        for key in ["binary", "sha256", "byteCount", "report", "reportNaming", "binaryModificationTimeNanoseconds",
                    "reportModificationTimeNanoseconds", "eventLocalTime", "serial", "kind"] {
            #expect(firstLine.contains("\"\(key)\":"), "\(key)")
        }
    }

    @Test("Manifest: digests, sizes, names and times match the files on disk")
    func matchesDisk() throws {
        let plan = FolderPlanner.plan(Support.options(seed: 32, events: 250))
        let path = try Support.makeTemporaryFolder("manifest-disk")
        defer { Support.removeFolder(path) }
        let manifest = try DirectoryFolderWriter(directoryPath: path).writeHistory(plan).manifest
        #expect(manifest.count == 250)
        for entry in manifest {
            let binaryPath = "\(path)/\(entry.binary)"
            let contents = try Data(contentsOf: URL(fileURLWithPath: binaryPath))
            #expect(EventDigest(of: contents).hex == entry.sha256)
            #expect(contents.count == entry.byteCount)
            #expect(Support.modificationTime(of: binaryPath) == entry.binaryModificationTime)
            let name = try #require(BlastwareEventName(parsing: entry.binary))
            #expect(name.unitSerial == entry.serial)
            #expect(name.localTime.description == entry.eventLocalTime)
            if let report = entry.report {
                #expect(Support.modificationTime(of: "\(path)/\(report)") == entry.reportModificationTime)
                #expect(entry.reportModificationTime! > entry.binaryModificationTime)
            } else {
                #expect(entry.reportNaming == .none)
                for candidate in EventFileRules.reportNames(forBinary: entry.binary) {
                    #expect(!FileManager.default.fileExists(atPath: "\(path)/\(candidate)"))
                }
            }
        }
    }
}
