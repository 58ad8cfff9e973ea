import ForwarderCore
import ForwarderSimulation
import Foundation
import Testing

/// The PC's wall clock steps while the forwarder runs; the checkers judge in true time.
@Suite("Clock scenarios")
struct ClockScenarioTests {
    static let hour = Duration.seconds(3600)
    static let year = Duration.seconds(365 * 86_400)

    @Test("Clock: a step mid-backfill holds nothing and sends everything once",
          arguments: [Duration.zero - hour, hour, .zero - year])
    func stepMidBackfill(step: Duration) async throws {
        var scenario = SimulationScenario(seed: 41, eventCount: 2000, folderMode: .backlog)
        scenario.wallClockSteps = [1: step]
        let result = try await simulate(scenario)
        // The same passes as without a step: the events written in the period's last hour,
        // future-dated after a step back, are not held until the wall clock reaches them.
        #expect(result.passes.map(\.forwarded) == [500, 500, 500, 500, 0])
        #expect(result.mockStats.inserted == 2000)
        #expect(result.mockStats.skipped == 0)
    }

    @Test("Clock: a step while events are being written holds nothing, sends nothing early or twice",
          arguments: [Duration.zero - hour, hour, .zero - year])
    func stepWhileWriting(step: Duration) async throws {
        var profile = FolderProfile.preset(named: "stuck")!
        profile.binaryWriteDuration = .seconds(20) ... .seconds(40)
        var scenario = SimulationScenario(seed: 42, eventCount: 300, profile: profile, passInterval: .seconds(7))
        scenario.wallClockSteps = [5: step, 40: step]
        let result = try await simulate(scenario)
        #expect(result.mockStats.inserted == 300)
        #expect(result.mockStats.skipped == 0)
    }

    @Test("Clock: a folder dated a year ahead at start is held for one pass, not a year")
    func folderFromFastPC() async throws {
        var scenario = SimulationScenario(seed: 43, eventCount: 600, folderMode: .backlog)
        scenario.wallClockSteps = [0: .zero - Self.year]
        let result = try await simulate(scenario)
        // First seen dated in the future, everything waits one pass interval (more than the
        // quiescence period and the report grace period), then goes as it would have.
        #expect(result.passes.map(\.forwarded) == [0, 500, 100, 0])
        #expect(result.passes[0].skips[.binaryNotQuiescent] == 600)
        #expect(result.mockStats.inserted == 600)
    }

    /// A restored archive: every event beside a copy of itself named ten years earlier, both
    /// with fresh modification times; the copies are not generated events, so sending one is a
    /// violation.
    static func restoredArchive(ageSource: EventAgeSource) -> SimulationScenario {
        var profile = FolderProfile.preset(named: "stuck")!
        profile.clockResetDayShare = 0
        var policy = ScanPolicy()
        policy.eventAgeSource = ageSource
        var scenario = SimulationScenario(seed: 44, eventCount: 300, profile: profile, folderMode: .backlog, policy: policy)
        scenario.folderEdits = { folder, plan in
            for event in plan.events {
                let tenYears = 10 * 365 * 86_400
                guard let old = SimEventName(serialNumber: event.name.serialNumber,
                                             secondsSince1985: event.name.secondsSince1985 - tenYears,
                                             kind: event.name.kind) else { continue }
                let contents = try folder.readContents(of: event.binaryFileName) + Data("restored".utf8)
                folder.create(old.fileName, contents: contents, modificationTime: event.binaryFinish)
            }
        }
        return scenario
    }

    @Test("Age source: with `name`, a restored archive's ten-year-old events are not sent despite fresh times")
    func restoredArchiveByName() async throws {
        let result = try await simulate(Self.restoredArchive(ageSource: .name))
        #expect(result.passes[0].skips[.tooOld] == 300)
        #expect(result.mockStats.inserted == 300)
        #expect(Set(result.uploads.map(\.binaryName)) == Set(result.manifest.map(\.binary)))
    }

    @Test("Age source: with `mtime`, the same restored archive is sent again (the checker catches it)")
    func restoredArchiveByModificationTime() async throws {
        let result = try await Simulation(Self.restoredArchive(ageSource: .modificationTime)).run()
        #expect(result.violations.contains { $0.rule == "noise" })
        #expect(result.uploads.count == 600)
    }
}
