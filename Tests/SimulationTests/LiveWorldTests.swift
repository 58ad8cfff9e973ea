import ForwarderCore
import ForwarderSimulation
import Foundation
import SimulationHarness
import Testing

@Suite("Live world", .serialized)
struct LiveWorldTests {
    @Test("Live: seed-state over a 100,000-file archive, then a live unit forwarded through faults on loopback")
    func largeArchiveThenLive() async throws {
        let faults = FaultPlan(seed: 31, rules: [
            FaultRule(name: "reset", fault: .connectionReset, probability: 0.05),
            FaultRule(name: "lost-response", fault: .connectionReset, probability: 0.05, afterStore: true),
        ])
        // Small binaries and reports keep the archive's bytes (and so the test's time) down; the
        // file count is what the scanner meets.
        var archive = FolderProfile.mixed
        archive.waveformMedianByteCount = 2000
        archive.waveformPercentile95ByteCount = 4000
        archive.sampleTableShare = 0
        let options = LiveWorldOptions(seed: 31, backlogEvents: 50_000, seedBacklog: true, backlogProfile: archive,
                                       liveEvents: 30, speed: 40,
                                       faultPlan: faults,
                                       policy: ScanPolicy(quiescencePeriod: .seconds(1), reportGracePeriod: .seconds(5),
                                                          forwardsPerPassLimit: 500),
                                       deadline: .seconds(1800))
        let result = try await LiveWorld(options).run()
        #expect(result.files >= 100_000, "the archive must hold at least 100,000 files, had \(result.files)")
        let seedReport = try #require(result.seedReport)
        #expect(seedReport.seeded > 30_000)
        #expect(seedReport.seeded + seedReport.skippedTooOld == 50_000, "the rest are older than the age window")
        #expect(result.violations.isEmpty, "\(result.violations.prefix(10).map(\.description))")
        #expect(result.finished)
        let accepted = Set(result.uploads.filter(\.outcome.isAccepted).map(\.binaryName))
        #expect(accepted.count == 30, "only the live events are uploaded")
        #expect(result.mockStats.inserted == 30)
    }
}
