import ForwarderCore
import ForwarderSimulation
import Foundation
import Testing

/// Retries in the simulated world: backoff, quarantine, the circuit breaker and `Retry-After`.
///
/// Besides each test's own assertions, the checkers verify after every pass that no event is
/// uploaded before its persisted backoff ends or while quarantined, and that no more uploads in
/// a row fail than the breaker allows.
@Suite("Retry scenarios")
struct RetryScenarioTests {
    @Test("Backoff: an hour of 503s backs each event off, across restarts; everything arrives once")
    func backoffThroughOutage() async throws {
        let plan = faults(FaultRule(name: "unavailable", fault: .httpStatus(code: 503, retryAfterSeconds: nil),
                                    window: TimeWindow(startSeconds: 3_600, durationSeconds: 3_600)))
        let result = try await simulate(SimulationScenario(seed: 31, eventCount: 300, profile: .preset(named: "stuck")!,
                                                           faultPlan: plan, restartAfterPasses: [75, 90]))
        let failed = result.passes.reduce(0) { $0 + $1.failed }
        #expect(failed > 0)
        #expect(result.passes.contains { ($0.skips[.backingOff] ?? 0) > 0 })
        // One probe per pass while the circuit is open, plus what opens it after each restart.
        #expect(failed <= 60 + 3 * RetryPolicy().circuitBreakerFailures, "\(failed) failed uploads in an hour")
        #expect(result.mockStats.skipped == 0)
        #expect(result.quarantined.isEmpty, "transient failures never quarantine")
    }

    @Test("Never blocked: five poison events at a cap of 3 back off and are quarantined; the rest flow; retry --all delivers them")
    func poisonEventsNeverBlock() async throws {
        var scenario = SimulationScenario(seed: 32, eventCount: 60, profile: .preset(named: "stuck")!, folderMode: .backlog,
                                          policy: ScanPolicy(forwardsPerPassLimit: 3))
        let poison = FolderPlanner.plan(scenario.generation).manifest()
            .sorted { ($0.binaryModificationTime, $0.binary) < ($1.binaryModificationTime, $1.binary) }
            .prefix(5).map(\.binary)
        scenario.faultPlan = faults(FaultRule(name: "poison", fault: .fileErrorRow(detail: "cannot parse"), fileNames: poison))
        scenario.healAfterPass = 60
        scenario.releaseAllAfterPasses = [60]
        let result = try await simulate(scenario)

        let poisonUploads = result.uploads.filter { poison.contains($0.binaryName) }
        for name in poison {
            let outcomes = poisonUploads.filter { $0.binaryName == name }.map(\.outcome.isAccepted)
            #expect(outcomes == [false, false, false, false, false, true], "\(name): 5 refusals, quarantine, release, accepted")
        }
        let quarantinedInPasses = result.passes.reduce(0) { $0 + $1.quarantined }
        #expect(quarantinedInPasses == 5)
        // The 55 good events take 19 passes at 3 a pass; the poison's retries may take a few slots,
        // but a cap spent on waiting events (the reference's way) would never get past them.
        var delivered = 0
        let passesForGoodEvents = result.passes.prefix { pass in
            delivered += pass.forwarded
            return delivered < 55
        }.count + 1
        let slotsNeeded = 55 + poison.count * RetryPolicy().quarantineAfterRejections
        #expect(passesForGoodEvents <= (slotsNeeded + 2) / 3, "good events were held up: \(passesForGoodEvents) passes")
        #expect(result.quarantined.isEmpty)
        #expect(result.mockStats.inserted == 60)
    }

    @Test("Circuit breaker: two hours of refused connections cost one probe per pass; everything arrives after")
    func circuitBreakerProbes() async throws {
        let plan = faults(FaultRule(name: "down", fault: .connectionReset,
                                    window: TimeWindow(startSeconds: 3_600, durationSeconds: 7_200)))
        let result = try await simulate(SimulationScenario(seed: 33, eventCount: 300, profile: .preset(named: "stuck")!,
                                                           faultPlan: plan, uploadConcurrency: 4))
        let start = result.passes[0].startedAt
        let outage = result.passes.filter {
            $0.startedAt - start >= .seconds(3_600) && $0.startedAt - start < .seconds(10_800)
        }
        let firstOpen = try #require(outage.firstIndex { $0.circuitOpened }, "the breaker opened")
        let probing = outage[(firstOpen + 1)...].filter { $0.uploadsAttempted > 0 }
        #expect(!probing.isEmpty)
        #expect(probing.allSatisfy { $0.uploadsAttempted == 1 && $0.failed == 1 }, "one probe per pass while down")
        #expect(probing.allSatisfy { ($0.skips[.serverUnavailable] ?? 0) + ($0.skips[.backingOff] ?? 0) > 0 })
        #expect(outage.reduce(0) { $0 + $1.failed } <= 120 + 8)
        #expect(result.mockStats.skipped == 0)
    }

    @Test("Retry-After: a 503 asking for 15 minutes is not retried sooner")
    func retryAfterHonoured() async throws {
        let plan = faults(FaultRule(name: "busy", fault: .httpStatus(code: 503, retryAfterSeconds: 900),
                                    requests: RequestRange(first: 1, last: 3)))
        let result = try await simulate(SimulationScenario(seed: 34, eventCount: 20, profile: .preset(named: "stuck")!,
                                                           folderMode: .backlog, faultPlan: plan))
        let refused = result.uploads.prefix(3)
        #expect(refused.allSatisfy { !$0.outcome.isAccepted })
        for first in refused {
            let retry = try #require(result.uploads.first { $0.binaryName == first.binaryName && $0.outcome.isAccepted })
            #expect(retry.time - first.time >= .seconds(900), "\(first.binaryName) retried after \(retry.time - first.time)")
        }
        #expect(result.mockStats.inserted == 20)
    }
}
