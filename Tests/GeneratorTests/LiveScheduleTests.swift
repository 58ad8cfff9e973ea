import Foundation
import ForwarderCore
import ForwarderSimulation
import Testing

@Suite struct LiveScheduleTests {
    typealias Support = GeneratorTestSupport

    @Test("Live: writes are in time order, binaries grow in chunks, reports follow complete binaries")
    func ordering() throws {
        let plan = FolderPlanner.plan(Support.options(seed: 71, events: 400))
        let operations = LiveWriteSchedule(plan: plan).operations
        for (earlier, later) in zip(operations, operations.dropFirst()) { #expect(earlier.time <= later.time) }

        var positions: [String: [Int]] = [:]
        for (index, operation) in operations.enumerated() { positions[operation.name, default: []].append(index) }
        for event in plan.events {
            let binaryPositions = try #require(positions[event.binaryFileName])
            let binaryOperations = binaryPositions.map { operations[$0] }
            guard case .create = binaryOperations.first?.action else {
                Issue.record("\(event.binaryFileName) does not start with create")
                continue
            }
            #expect(binaryOperations.last?.action == .finish)
            #expect(binaryOperations.last?.time == event.binaryFinish)
            var byteCount = 0
            var chunkCount = 0
            for operation in binaryOperations {
                switch operation.action {
                case .create(let bytes), .append(let bytes):
                    #expect(!bytes.isEmpty)
                    byteCount += bytes.count
                    chunkCount += 1
                default: break
                }
            }
            #expect(chunkCount >= 2)
            #expect(byteCount == event.binaryByteCount)
            let finishPosition = binaryPositions.last!
            for report in event.reportFiles {
                let reportPositions = try #require(positions[report.name])
                #expect(reportPositions.allSatisfy { $0 > finishPosition }, "\(report.name) before its binary is complete")
            }
        }
    }

    @Test("Live: replaying the whole schedule into memory gives the history folder")
    func replayEqualsHistory() throws {
        let plan = FolderPlanner.plan(Support.options(seed: 72, events: 300))
        let history = SimEventFolder()
        history.apply(plan)
        let live = SimEventFolder()
        live.schedule(LiveWriteSchedule(plan: plan))
        #expect(try live.listEntries().isEmpty)
        let applied = try live.applyScheduledOperations(through: plan.periodEnd + .seconds(86_400))
        #expect(applied > plan.events.count * 3)
        #expect(live.nextScheduledTime == nil)
        #expect(try Support.folderDigest(live) == Support.folderDigest(history))
    }

    @Test("Live: mid-download a binary is partial and its report absent")
    func midDownload() throws {
        let plan = FolderPlanner.plan(Support.options(seed: 73, events: 50))
        let event = try #require(plan.events.first { $0.achReportTime != nil })
        let folder = SimEventFolder()
        folder.schedule(LiveWriteSchedule(plan: plan))
        let middle = event.downloadStart + (event.binaryFinish - event.downloadStart) / 2
        try folder.applyScheduledOperations(through: middle)
        let partial = try #require(try folder.listEntries().first { $0.name == event.binaryFileName })
        #expect(partial.byteCount > 0 && partial.byteCount < Int64(event.binaryByteCount))
        #expect(partial.modificationTime <= middle && partial.modificationTime >= event.downloadStart)
        #expect(try !folder.listEntries().contains { $0.name == event.achReportFileName })

        try folder.applyScheduledOperations(through: event.binaryFinish)
        let complete = try #require(try folder.listEntries().first { $0.name == event.binaryFileName })
        #expect(complete.byteCount == Int64(event.binaryByteCount))
        #expect(complete.modificationTime == event.binaryFinish)
        #expect(complete.identity == partial.identity)
        try folder.applyScheduledOperations(through: event.achReportTime!)
        #expect(try folder.listEntries().contains { $0.name == event.achReportFileName })
    }

    @Test("Live: the directory writer in scaled time leaves the history folder's files")
    func directoryLive() async throws {
        let plan = FolderPlanner.plan(Support.options(seed: 74, profile: .blastMonitoring, units: 2, days: 1))
        let livePath = try Support.makeTemporaryFolder("live")
        let historyPath = try Support.makeTemporaryFolder("history")
        defer { Support.removeFolder(livePath); Support.removeFolder(historyPath) }
        let summary = try await DirectoryFolderWriter(directoryPath: livePath)
            .writeLive(LiveWriteSchedule(plan: plan), speed: 2_000_000)
        let history = try DirectoryFolderWriter(directoryPath: historyPath).writeHistory(plan)

        #expect(summary.eventCount == history.summary.eventCount)
        #expect(summary.reportCount == history.summary.reportCount)
        #expect(summary.byteCount == history.summary.byteCount)
        let liveFiles = Support.relativeFilePaths(in: livePath)
        #expect(liveFiles == Support.relativeFilePaths(in: historyPath))
        for file in liveFiles {
            let liveContents = try Data(contentsOf: URL(fileURLWithPath: "\(livePath)/\(file)"))
            #expect(liveContents == (try Data(contentsOf: URL(fileURLWithPath: "\(historyPath)/\(file)"))), "\(file)")
        }
    }

    @Test("Sim folder: create, append, touch and remove keep listings and identities straight")
    func simFolderOperations() throws {
        let folder = SimEventFolder()
        let time = Support.start
        folder.create("A000AAAA.000W", contents: Data([1, 2]), modificationTime: time)
        try folder.append(Data([3]), to: "A000AAAA.000W", modificationTime: time + .seconds(1))
        try folder.setModificationTime(time + .seconds(5), of: "A000AAAA.000W")
        folder.createDirectory("Archive", modificationTime: time)
        folder.create("Archive/inside.txt", modificationTime: time)
        let entries = try folder.listEntries()
        #expect(entries.map(\.name) == ["A000AAAA.000W", "Archive"])
        #expect(entries[0].byteCount == 3 && entries[0].modificationTime == time + .seconds(5))
        #expect(entries[0].identity == FileIdentity(volume: 1, file: 1))
        #expect(try folder.readContents(of: "A000AAAA.000W") == Data([1, 2, 3]))
        #expect(throws: FolderError.self) { try folder.readContents(of: "Archive") }
        #expect(throws: FolderError.self) { try folder.append(Data([1]), to: "missing", modificationTime: time) }
        try folder.remove("A000AAAA.000W")
        #expect(throws: FolderError.self) { try folder.readContents(of: "A000AAAA.000W") }
        folder.create("A000AAAA.000W", modificationTime: time)
        #expect(try folder.listEntries()[0].identity == FileIdentity(volume: 1, file: 4))
    }
}
