import Foundation
import ForwarderCore
import ForwarderSimulation
import Testing

@Suite struct DeterminismTests {
    typealias Support = GeneratorTestSupport

    @Test("Determinism: one seed writes byte-identical folders on disk")
    func sameSeedSameFolder() throws {
        let options = Support.options(seed: 7, events: 300)
        let first = try Support.makeTemporaryFolder("same-a")
        let second = try Support.makeTemporaryFolder("same-b")
        defer { Support.removeFolder(first); Support.removeFolder(second) }

        let firstResult = try DirectoryFolderWriter(directoryPath: first).writeHistory(FolderPlanner.plan(options))
        let secondResult = try DirectoryFolderWriter(directoryPath: second).writeHistory(FolderPlanner.plan(options), generatorThreadCount: 3)

        #expect(firstResult.summary.eventCount == 300)
        #expect(firstResult.manifest == secondResult.manifest)
        #expect(try Support.directoryDigest(first) == Support.directoryDigest(second))
    }

    @Test("Determinism: a different seed gives a different folder")
    func differentSeedDifferentFolder() throws {
        let first = SimEventFolder()
        first.apply(FolderPlanner.plan(Support.options(seed: 7, events: 200)))
        let second = SimEventFolder()
        second.apply(FolderPlanner.plan(Support.options(seed: 8, events: 200)))

        #expect(try Support.folderDigest(first) != Support.folderDigest(second))
    }

    @Test("Determinism: the in-memory folder holds what the disk folder holds")
    func memoryMatchesDisk() throws {
        let plan = FolderPlanner.plan(Support.options(seed: 11, events: 150))
        let path = try Support.makeTemporaryFolder("memory-disk")
        defer { Support.removeFolder(path) }
        _ = try DirectoryFolderWriter(directoryPath: path).writeHistory(plan)
        let memory = SimEventFolder()
        memory.apply(plan)

        let memoryFiles = try memory.listEntries().filter { $0.kind == .regularFile }
        let diskFiles = Support.relativeFilePaths(in: path).filter { !$0.contains("/") }
        #expect(memoryFiles.map(\.name) == diskFiles)
        for entry in memoryFiles {
            let diskContents = try Data(contentsOf: URL(fileURLWithPath: "\(path)/\(entry.name)"))
            #expect(try memory.readContents(of: entry.name) == diskContents, "\(entry.name)")
            #expect(Support.modificationTime(of: "\(path)/\(entry.name)") == entry.modificationTime, "\(entry.name)")
        }
    }

    @Test("Determinism: every event's content is unique")
    func uniqueDigests() {
        let manifest = FolderPlanner.plan(Support.options(seed: 3, profile: .stuckTrigger, events: 1500)).manifest()
        #expect(manifest.count == 1500)
        #expect(Set(manifest.map(\.sha256)).count == manifest.count)
    }

    @Test("Scale: a requested event count is met exactly and units and days are honoured")
    func scaleOptions() {
        #expect(FolderPlanner.plan(Support.options(seed: 5, events: 777)).events.count == 777)
        let plan = FolderPlanner.plan(Support.options(seed: 5, profile: .blastMonitoring, units: 3, days: 10))
        #expect(plan.units.count == 3)
        #expect(Set(plan.events.map(\.name.serialNumber)).isSubset(of: Set(plan.units.map(\.serialNumber))))
        #expect(plan.events.allSatisfy { $0.downloadStart >= plan.periodStart && $0.downloadStart < plan.periodStart + .seconds(10 * 86_400) })
        #expect(FolderPlanner.plan(Support.options(seed: 5, profile: .idle)).events.isEmpty)
    }

    @Test("History: a plan ending now never writes in the future")
    func endingAt() {
        let end = Support.start + .seconds(40 * 86_400)
        let plan = FolderPlanner.plan(Support.options(seed: 9, events: 500), endingAt: end)
        #expect(plan.events.count == 500)
        #expect(plan.periodEnd <= end)
        #expect(plan.periodEnd > end - .seconds(2 * 86_400))
    }
}
