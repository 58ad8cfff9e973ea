import ForwarderCore
import Testing

@Suite("Health rules")
struct HealthRulesTests {
    let start = FileTime(secondsSince1970: 1_800_000_000)
    let interval = Duration.seconds(60)

    func snapshot(at offset: Duration, lastPassAt: Duration? = nil, circuitOpen: Bool = false,
                  stateWritable: Bool = true) -> HealthSnapshot {
        HealthSnapshot(now: start + offset, startedAt: start, lastPassFinishedAt: lastPassAt.map { start + $0 },
                       passInterval: interval, circuitOpen: circuitOpen, stateWritable: stateWritable)
    }

    @Test("Health: a pass that finished exactly three intervals ago is healthy; a nanosecond later it is not")
    func lastPassBoundary() {
        let lastPass = Duration.seconds(1000)
        let justBefore = HealthRules.assess(snapshot(at: lastPass + .seconds(180) - .nanoseconds(1), lastPassAt: lastPass))
        let atBoundary = HealthRules.assess(snapshot(at: lastPass + .seconds(180), lastPassAt: lastPass))
        let justAfter = HealthRules.assess(snapshot(at: lastPass + .seconds(180) + .nanoseconds(1), lastPassAt: lastPass))
        #expect(justBefore.isHealthy && justBefore.status == "ok")
        #expect(atBoundary.isHealthy)
        #expect(atBoundary.lastPassAgeSeconds == 180)
        #expect(!justAfter.isHealthy && justAfter.status == "unhealthy")
        #expect(justAfter.reasons.count == 1)
        #expect(justAfter.reasons.first?.contains("last pass finished") == true)
        #expect(justAfter.maximumPassAgeSeconds == 180)
    }

    @Test("Health: before the first pass, the process's age stands in, with the same three-interval boundary")
    func beforeFirstPass() {
        #expect(HealthRules.assess(snapshot(at: .zero)).isHealthy)
        #expect(HealthRules.assess(snapshot(at: .seconds(180) - .nanoseconds(1))).isHealthy)
        #expect(HealthRules.assess(snapshot(at: .seconds(180))).isHealthy)
        let late = HealthRules.assess(snapshot(at: .seconds(180) + .nanoseconds(1)))
        #expect(!late.isHealthy)
        #expect(late.lastPassAgeSeconds == nil)
        #expect(late.reasons.first?.contains("no pass has finished since the start") == true)
    }

    @Test("Health: a recent pass counts even when the process is old")
    func oldProcessRecentPass() {
        #expect(HealthRules.assess(snapshot(at: .seconds(86_400), lastPassAt: .seconds(86_400 - 5))).isHealthy)
    }

    @Test("Health: an open circuit or an unwritable state is unhealthy however recent the pass, each with its reason")
    func circuitAndState() {
        let circuit = HealthRules.assess(snapshot(at: .seconds(10), lastPassAt: .seconds(9), circuitOpen: true))
        #expect(!circuit.isHealthy && circuit.circuitOpen)
        #expect(circuit.reasons == ["the circuit is open: the server looks down, passes only probe it"])
        let state = HealthRules.assess(snapshot(at: .seconds(10), lastPassAt: .seconds(9), stateWritable: false))
        #expect(!state.isHealthy && !state.stateWritable)
        #expect(state.reasons == ["the state is not writable: the last state write or sync failed"])
        let all = HealthRules.assess(snapshot(at: .seconds(1000), lastPassAt: .seconds(9), circuitOpen: true,
                                              stateWritable: false))
        #expect(all.reasons.count == 3)
    }

    @Test("Health: the interval scales the boundary")
    func otherInterval() {
        let snapshot = HealthSnapshot(now: start + .milliseconds(3001), startedAt: start, lastPassFinishedAt: start,
                                      passInterval: .seconds(1), circuitOpen: false, stateWritable: true)
        #expect(!HealthRules.assess(snapshot).isHealthy)
        var within = snapshot
        within.now = start + .milliseconds(3000)
        #expect(HealthRules.assess(within).isHealthy)
    }
}
