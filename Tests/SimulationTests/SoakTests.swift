import ForwarderCore
import ForwarderSimulation
import Foundation
import SimulationHarness
import Testing

/// The soak of issue #13, small enough for a debug build: the real `event-forwarder run` for a
/// few dozen short passes over a live folder, sampled from `/proc` after every pass.
@Suite("Soak tests", .serialized)
struct SoakTests {
    @Test("Soak: 30 short passes over a live folder with faults keep memory and descriptors flat, lose nothing, re-send only lost answers")
    func shortSoak() async throws {
        let faults = FaultPlan(seed: 13_013, rules: [
            FaultRule(name: "reset", fault: .connectionReset, probability: 0.05),
            FaultRule(name: "busy", fault: .httpStatus(code: 503, retryAfterSeconds: 1), probability: 0.05),
            FaultRule(name: "lost-after-commit", fault: .closeWithoutResponse, probability: 0.05, afterStore: true),
            FaultRule(name: "slow", fault: .delay(.fixed(.milliseconds(50))), probability: 0.2),
        ])
        let options = SoakTestOptions(seed: 13_013, passes: 30, passInterval: .milliseconds(200),
                                      forwarderExecutable: try builtForwarderExecutable(), backlogEvents: 80,
                                      eventsPerRound: 5, arrivalSpeed: 5, arrivalQuietGap: .seconds(20), faultPlan: faults,
                                      drainTimeout: .seconds(120))
        let result = try await SoakTest(options).run()
        print("soak test: seed \(result.seed), \(result.samples.count) samples, RSS \(result.resident.map { "\($0)" } ?? "-"), "
            + "fds \(result.descriptors.map { "\($0)" } ?? "-"), \(result.events) events in \(result.arrivalRounds) rounds, "
            + "duplicates \(result.duplicates) of \(result.responsesLostAfterCommit) lost answers, faulted \(result.stats.faultedRequests)")
        #expect(result.problems.isEmpty, "\(result.problems)")
        #expect(result.samples.last?.pass ?? 0 >= 30)
        #expect(result.samples.count >= SoakGrowthRule().minimumSampleCount(forPasses: 30))
        #expect(result.samples.allSatisfy { $0.residentKilobytes > 0 && $0.openDescriptors > 2 })
        #expect(result.samples.allSatisfy { $0.anonymousKilobytes > 0 && $0.anonymousKilobytes < $0.residentKilobytes })
        #expect(result.resident?.withinAllowance == true)
        #expect(result.descriptors?.withinAllowance == true)
        #expect(result.arrivalRounds >= 1, "events arrived while the forwarder ran")
        #expect(result.events > 80)
        #expect(result.lostEvents == 0)
        #expect(result.lostReports == 0)
        #expect(result.stats.faultedRequests > 0, "the fault plan fired")
        #expect(result.duplicates <= result.responsesLostAfterCommit)
        #expect(result.finalExitStatus == 0, "SIGTERM ends the forwarder with status 0")
        #expect(result.passed)
    }

    @Test("Soak: a process that opens a descriptor every pass fails the verdict")
    func leakingDescriptorsAreCaught() async throws {
        // Stands in for the forwarder: logs a finished pass every 250 ms and keeps one more
        // descriptor open each time. It uploads nothing, so the soak also reports lost events.
        // Passes far apart give one sample each even on a loaded machine: passes the sampler
        // sees together share a sample, and 40 passes need 16 samples for a verdict.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("soak-leak-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let script = folder + "/event-forwarder"
        try """
            #!/bin/bash
            descriptor=20
            while true; do
              descriptor=$((descriptor + 1))
              eval "exec $descriptor</dev/null"
              echo '{"message":"pass finished"}'
              sleep 0.25
            done

            """.write(toFile: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
        let options = SoakTestOptions(seed: 13_014, passes: 40, passInterval: .milliseconds(250), forwarderExecutable: script,
                                      backlogEvents: 5, eventsPerRound: 1, arrivalSpeed: 100, faultPlan: .none,
                                      drainTimeout: .milliseconds(500))
        let result = try await SoakTest(options).run()
        #expect(!result.passed)
        #expect(result.descriptors?.withinAllowance == false)
        #expect(result.problems.contains { $0.hasPrefix("open descriptors grew") }, "\(result.problems)")
        #expect(result.lostEvents > 0)
    }

    @Test("Soak: growth is judged by window medians after warm-up, so a leak fails and warm-up and spikes do not")
    func growthRule() {
        let rule = SoakGrowthRule()
        func samples(_ resident: (Int) -> Int, descriptors: (Int) -> Int = { _ in 12 }) -> [SoakSample] {
            (1...100).map { pass in
                SoakSample(pass: pass, elapsed: .seconds(pass), residentKilobytes: resident(pass),
                           openDescriptors: descriptors(pass), serverEvents: 0)
            }
        }
        // Flat after climbing through warm-up, with a spike in the last window.
        let settled = rule.assess(samples { pass in pass <= 20 ? 10_000 + pass * 500 : (pass == 99 ? 40_000 : 20_000) })
        #expect(settled?.resident.withinAllowance == true)
        #expect(settled?.resident.baseline == 20_000)
        // 0.1 % a pass: about 7 % between the windows.
        let leaking = rule.assess(samples { pass in 20_000 + pass * 20 })
        #expect(leaking?.resident.withinAllowance == false)
        #expect((leaking?.resident.growthPercent ?? 0) > 5)
        // Descriptors: the slack of 2 holds, a third one more does not.
        #expect(rule.assess(samples({ _ in 20_000 }, descriptors: { $0 > 80 ? 14 : 12 }))?.descriptors.withinAllowance == true)
        #expect(rule.assess(samples({ _ in 20_000 }, descriptors: { $0 > 80 ? 15 : 12 }))?.descriptors.withinAllowance == false)
        #expect(rule.assess(Array(samples { _ in 1 }.prefix(rule.minimumSampleCount(forPasses: 10) - 1))) == nil)
    }
}

/// The journal counts the crash and soak verdicts allow re-sends by, on the mock itself.
@Suite("Mock re-send counts")
struct MockResendCountTests {
    static let start = FileTime(nanosecondsSince1970: 1_765_000_000_000_000_000)

    func request(minute: Int) -> ImportRequest {
        let name = BlastwareEventName(serialNumber: 18_190, secondsSince1985: 1_300_000_000 + minute * 60, kind: .waveform)!
        var bytes = Data([0x10, 0x00, 0x01, 0x80, 0x00, 0x00] + Array("Instantel\0".utf8) + [0x07, 0x2C])
        bytes.append(Data(repeating: UInt8(minute + 1), count: 4400))
        return ImportRequest(binary: .init(name: name.fileName, contents: bytes), report: nil, serialHint: nil)
    }

    @Test("Mock: an answer dropped after commit is counted, and so is the re-send it causes")
    func lostAnswerAndItsResend() {
        let mock = MockSFM(faultPlan: FaultPlan(rules: [
            FaultRule(name: "lost", fault: .closeWithoutResponse, requests: RequestRange(first: 1, last: 1), afterStore: true),
            FaultRule(name: "reset-before-store", fault: .connectionReset, requests: RequestRange(first: 3, last: 3)),
        ]), planInstalledAt: Self.start)
        _ = mock.handleImport(request(minute: 0), receivedAt: Self.start)
        #expect(mock.responsesLostAfterCommit() == 1)
        #expect(mock.uploadsThatChangedNothing() == 0, "the first upload stored the event")
        _ = mock.handleImport(request(minute: 0), receivedAt: Self.start + .seconds(1))
        #expect(mock.uploadsThatChangedNothing() == 1, "the re-send after the lost answer changed nothing")
        _ = mock.handleImport(request(minute: 0), receivedAt: Self.start + .seconds(2))
        #expect(mock.uploadsThatChangedNothing() == 1, "a request reset before storing was never taken")
        #expect(mock.responsesLostAfterCommit() == 1)
        _ = mock.handleImport(request(minute: 1), receivedAt: Self.start + .seconds(3))
        #expect(mock.uploadsThatChangedNothing() == 1)
        #expect(mock.eventCount == 2)
    }
}
