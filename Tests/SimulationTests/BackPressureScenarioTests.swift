import ForwarderCore
import ForwarderSimulation
import Foundation
import Testing

/// The forwarder listening to the server, in the simulated world: the fleet-wide pause a
/// `Retry-After` asks for, and the circuit breaker kept across restarts.
///
/// Besides each test's assertions, the checkers verify after every pass that no upload starts
/// before a `Retry-After` the mock sent on a 429 or 503 has run out.
@Suite("Back-pressure scenarios")
struct BackPressureScenarioTests {
    @Test("Pause: a 429 asking for 10 minutes holds every event, not only the one refused; then all arrive once")
    func fleetWidePause() async throws {
        let plan = faults(FaultRule(name: "throttle", fault: .httpStatus(code: 429, retryAfterSeconds: 600),
                                    requests: RequestRange(first: 3, last: 3)))
        let result = try await simulate(SimulationScenario(seed: 41, eventCount: 40, profile: .preset(named: "stuck")!,
                                                           folderMode: .backlog, faultPlan: plan))
        let throttled = result.uploads[2]
        #expect(!throttled.outcome.isAccepted)
        let later = result.uploads[3...]
        #expect(later.allSatisfy { $0.time - throttled.time >= .seconds(600) },
                "no upload of any event before the 10 minutes are over")
        let paused = result.passes.filter { ($0.skips[.serverAskedToWait] ?? 0) > 0 }
        #expect(!paused.isEmpty)
        #expect(paused.allSatisfy { $0.serverAskedToWaitUntil == throttled.time + .seconds(600) })
        #expect(result.mockStats.inserted == 40)
    }

    @Test("Circuit breaker: a restart against a dead server costs one probe, not a window")
    func restartCostsOneProbe() async throws {
        let plan = faults(FaultRule(name: "down", fault: .connectionReset,
                                    window: TimeWindow(startSeconds: 3_600, durationSeconds: 7_200)))
        let restarts = Set(70...110)
        let result = try await simulate(SimulationScenario(seed: 33, eventCount: 300, profile: .preset(named: "stuck")!,
                                                           faultPlan: plan, restartAfterPasses: restarts,
                                                           uploadConcurrency: 4))
        let start = result.passes[0].startedAt
        let afterRestarts = restarts.map { result.passes[$0] }
        #expect(afterRestarts.allSatisfy { $0.startedAt - start > .seconds(3_600) && $0.startedAt - start < .seconds(10_800) },
                "every restart is inside the outage")
        #expect(afterRestarts.allSatisfy { $0.uploadsAttempted <= 1 }, "a restarted forwarder probes with one upload")
        #expect(afterRestarts.filter { $0.uploadsAttempted == 1 }.count >= 5, "and does probe")
        #expect(afterRestarts.allSatisfy { $0.failed == $0.uploadsAttempted })
        #expect(result.mockStats.skipped == 0)
    }

    @Test("Checkers: an upload before the server's Retry-After ran out is flagged, beyond those in flight; a restart forgets the pause")
    func pauseChecker() {
        let now = FileTime(secondsSince1970: 1_000_000)
        let names = ["M529LIY6.N00", "N844L20G.630H", "N844L20H.630H"]
        let listing = names.map { FolderEntry(name: $0, byteCount: 1, modificationTime: now - .seconds(600)) }
        func upload(_ name: String, pausedFor seconds: Int64? = nil) -> SimulatedUpload {
            SimulatedUpload(time: now, binaryName: name, binaryDigest: EventDigest(of: Array(name.utf8)), reportName: nil,
                            outcome: .failed(UploadProblem(kind: .httpStatus(429), detail: "slow down")), stored: false,
                            serverAskedToWaitUntil: seconds.map { now + .seconds($0) })
        }
        let uploads = [upload(names[0], pausedFor: 60), upload(names[1]), upload(names[2])]
        var oneAtATime = SimulationChecker(policy: ScanPolicy(forwardsPerPassLimit: nil), reportsByBinary: Dictionary(uniqueKeysWithValues: names.map { ($0, []) }))
        oneAtATime.checkPass(1, now: now, listing: listing, uploads: uploads, reorderWindow: 3)
        #expect(oneAtATime.violations.map(\.rule) == ["pause", "pause"])

        var twoInFlight = SimulationChecker(policy: ScanPolicy(forwardsPerPassLimit: nil), reportsByBinary: Dictionary(uniqueKeysWithValues: names.map { ($0, []) }))
        twoInFlight.checkPass(1, now: now, listing: listing, uploads: uploads, reorderWindow: 3, uploadConcurrency: 2)
        #expect(twoInFlight.violations.map(\.rule) == ["pause"], "one upload may already have been in flight")

        var restarted = SimulationChecker(policy: ScanPolicy(forwardsPerPassLimit: nil), reportsByBinary: Dictionary(uniqueKeysWithValues: names.map { ($0, []) }))
        restarted.checkPass(1, now: now, listing: listing, uploads: [uploads[0]])
        restarted.forwarderRestarted()
        restarted.checkPass(2, now: now, listing: listing, uploads: [uploads[1]])
        #expect(restarted.violations.isEmpty)
    }
}
