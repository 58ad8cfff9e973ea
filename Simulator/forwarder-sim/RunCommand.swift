import ArgumentParser
import ForwarderCore
import ForwarderSimulation
import Foundation
import SimulationHarness

/// `forwarder-sim run`: one seeded simulation of the real forwarder, with the checkers' verdict.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the real forwarder in a seeded simulation and check every rule after every pass.")

    @Option(help: "Seed; the same seed gives the same run.") var seed: UInt64?
    @Option(help: "Events to generate.") var events = 2000
    @Option(help: "Generator profile: mixed, blast, vibration, stuck, idle.") var profile = "mixed"
    @Option(help: "Fault plan JSON file for the mock server (see docs/MOCK-SFM.md).") var faults: String?
    @Option(help: "backlog (folder complete at start) or live (files appear as time passes).") var folder = "live"
    @Option(help: "Uploads per pass, 0 for unlimited.") var maxForwardsPerPass = 500
    @Option(help: "World: simulated (in memory, simulated time) or live (real folder, mock on loopback, real time).")
    var world = "simulated"

    func run() async throws {
        let seed = seed ?? GenerateCommand.seedFromTime(FileTime(Date()))
        print("seed: \(seed)")
        guard let profile = FolderProfile.preset(named: profile) else {
            throw ValidationError("--profile \(profile): expected mixed, blast, vibration, stuck or idle")
        }
        guard let mode = SimulationScenario.FolderMode(rawValue: folder) else {
            throw ValidationError("--folder \(folder): expected backlog or live")
        }
        var faultPlan = FaultPlan.none
        if let faults {
            faultPlan = try FaultPlan(json: Data(contentsOf: URL(fileURLWithPath: faults)))
        }
        if world == "live" {
            try await runLive(seed: seed, profile: profile, faultPlan: faultPlan)
            return
        }
        guard world == "simulated" else { throw ValidationError("--world \(world): expected simulated or live") }
        let scenario = SimulationScenario(
            seed: seed, eventCount: events, profile: profile, folderMode: mode,
            policy: ScanPolicy(forwardsPerPassLimit: maxForwardsPerPass == 0 ? nil : maxForwardsPerPass),
            faultPlan: faultPlan)
        let startedAt = Date()
        let result = try await Simulation(scenario).run()
        let seconds = Date().timeIntervalSince(startedAt)
        print(String(format: "passes: %d, simulated: %.1f h, uploads: %d, accepted: %d, lost to crashes: %d, wall: %.1f s",
                     result.passes.count, result.simulatedDuration.secondsValue / 3600, result.uploads.count,
                     result.accepted, result.lostToCrashes, seconds))
        print("server: inserted \(result.mockStats.inserted), updated \(result.mockStats.updated), "
            + "duplicates \(result.mockStats.duplicates), faults \(result.mockStats.faultedRequests)")
        print("run digest: \(result.runDigest)")
        var replay = "forwarder-sim run --seed \(seed) --events \(events) --profile \(self.profile) --folder \(folder) "
            + "--max-forwards-per-pass \(maxForwardsPerPass)"
        if let faults { replay += " --faults \(faults)" }
        if result.passed {
            print("verdict: PASS")
        } else {
            for violation in result.violations.prefix(20) { print("violation: \(violation)") }
            if !result.finished { print("violation: the work was not done after \(result.passes.count) passes") }
            print("replay: \(replay)")
            print("verdict: FAIL")
            throw ExitCode(1)
        }
    }

    /// The same checks on the real forwarder, a real folder and the mock on 127.0.0.1.
    private func runLive(seed: UInt64, profile: FolderProfile, faultPlan: FaultPlan) async throws {
        let options = LiveWorldOptions(
            seed: seed, backlogEvents: folder == "backlog" ? events : 0, backlogProfile: profile,
            liveEvents: folder == "live" ? events : 0, liveProfile: profile, speed: 20, faultPlan: faultPlan,
            policy: ScanPolicy(quiescencePeriod: .seconds(1), reportGracePeriod: .seconds(5),
                               forwardsPerPassLimit: maxForwardsPerPass == 0 ? nil : maxForwardsPerPass))
        let result = try await LiveWorld(options).run()
        print(String(format: "passes: %d, uploads: %d, forwarded: %d, wall: %.1f s", result.passes.count,
                     result.uploads.count, result.forwarded, result.elapsed.secondsValue))
        if result.passed {
            print("verdict: PASS")
        } else {
            for violation in result.violations.prefix(20) { print("violation: \(violation)") }
            print("replay: forwarder-sim run --world live --seed \(seed) --events \(events) --profile \(self.profile) --folder \(folder)")
            print("verdict: FAIL")
            throw ExitCode(1)
        }
    }
}
