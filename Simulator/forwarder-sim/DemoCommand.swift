import ArgumentParser
import ForwarderCore
import ForwarderSimulation
import Foundation
import SimulationHarness

/// `forwarder-sim demo`: the whole system at a glance, on loopback, cleaned up afterwards.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Generate a realistic ACH folder, start the mock SFM with light faults, run the real forwarder until done.")

    @Option(help: "Seed; the same seed gives the same folder and faults.") var seed: UInt64?
    @Option(help: "Events already in the folder at start.") var events = 20_000
    @Option(help: "Events written while the forwarder runs (a stuck-trigger unit calling in).") var liveEvents = 60
    @Option(help: "How many times faster than real time the live events are written.") var speed = 40.0

    func run() async throws {
        let seed = seed ?? GenerateCommand.seedFromTime(FileTime(Date()))
        print("seed: \(seed)")
        print("replay: forwarder-sim demo --seed \(seed) --events \(events) --live-events \(liveEvents) --speed \(speed)")
        let lightFaults = FaultPlan(seed: seed, rules: [
            FaultRule(name: "reset", fault: .connectionReset, probability: 0.01),
            FaultRule(name: "unavailable", fault: .httpStatus(code: 503, retryAfterSeconds: 1), probability: 0.01),
            FaultRule(name: "lost-response", fault: .connectionReset, probability: 0.005, afterStore: true),
        ])
        let options = LiveWorldOptions(
            seed: seed, backlogEvents: events, liveEvents: liveEvents, speed: speed, faultPlan: lightFaults,
            policy: ScanPolicy(quiescencePeriod: .seconds(1), reportGracePeriod: .seconds(5), forwardsPerPassLimit: 5000),
            deadline: .seconds(300))
        let result = try await LiveWorld(options).run { progress in
            guard let report = progress.report else {
                print("\(progress.phase) (\(progress.expected) events)…")
                return
            }
            print(String(format: "pass %3d  %6.1f s  accepted %6d/%d  this pass: %@", progress.pass,
                         progress.elapsed.secondsValue, progress.accepted, progress.expected, report.summary))
        }
        let seconds = result.elapsed.secondsValue
        let rows: [(String, String)] = [
            ("files in folder", "\(result.files)"),
            ("events", "\(result.manifest.count)"),
            ("forwarded", "\(result.forwarded)"),
            ("with report", "\(result.forwardedWithReport)"),
            ("late reports re-sent", "\(result.lateReportsResent)"),
            ("faults met", "\(result.mockStats.faultedRequests)"),
            ("failed uploads (retried)", "\(result.failedUploads)"),
            ("duplicates at server", "\(result.mockStats.skipped)"),
            ("lost", "\(result.violations.filter { $0.rule == "lost" }.count)"),
            ("events/s", String(format: "%.0f", Double(result.forwarded) / max(seconds, 0.001))),
            ("seconds", String(format: "%.1f", seconds)),
        ]
        print("")
        for (label, value) in rows {
            print(label.padding(toLength: 26, withPad: " ", startingAt: 0) + value)
        }
        for violation in result.violations.prefix(10) { print("violation: \(violation)") }
        if result.passed {
            print("verdict: PASS")
        } else {
            if !result.finished { print("violation: not done within the deadline") }
            print("verdict: FAIL")
            throw ExitCode(1)
        }
    }
}
