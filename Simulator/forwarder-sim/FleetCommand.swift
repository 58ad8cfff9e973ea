import ArgumentParser
import ForwarderCore
import ForwarderSimulation
import Foundation
import SimulationHarness

/// `forwarder-sim fleet`: many forwarders against one server with a capacity, through a day.
struct FleetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet",
        abstract: "Run a fleet of forwarders against one server with a capacity through a scripted day.",
        discussion: """
        Each PC gets its own generated ACH folder (distinct unit serials), state and seed derived from \
        --seed. The day: a steady trickle of events, a backlog at the start on a fifth of the PCs, an \
        8-minute server outage at 10:00, recovery, and a 45-minute slow server (4× service times) at \
        14:00. Prints the seed, a per-minute table, a summary and the checkers' verdict (exit 1 with \
        the replay command when a rule broke).
        """)

    @Option(help: "PCs in the fleet, one forwarder each.") var pcs = 50
    @Option(help: "About this many events a day on each PC.") var eventsPerPc = 200
    @Option(help: "Seed; the same seed gives the same run (simulated world).") var seed: UInt64?
    @Option(help: "World: simulated (in process, simulated time) or live (event-forwarder processes against the mock on loopback, the day in about a minute).")
    var world = "simulated"
    @Option(help: "Write an SVG chart of the server's load and each PC's backlog to this file.") var chart: String?
    @Option(help: "The event-forwarder executable for the live world (default: the one beside this executable).")
    var forwarder: String?
    @Option(help: "Live world: keep each PC's folder, state and log, and the server's journal (journal.json), in this folder.")
    var workFolder: String?

    func validate() throws {
        guard pcs > 0, pcs <= 2000 else { throw ValidationError("--pcs \(pcs): expected 1 to 2000.") }
        guard eventsPerPc > 0 else { throw ValidationError("--events-per-pc \(eventsPerPc): expected a positive number.") }
        guard ["simulated", "live"].contains(world) else { throw ValidationError("--world \(world): expected simulated or live.") }
        if let workFolder, world != "live" {
            throw ValidationError("--work-folder \(workFolder): only the live world has folders to keep.")
        }
    }

    func run() async throws {
        let seed = seed ?? GenerateCommand.seedFromTime(FileTime(Date()))
        print("seed: \(seed)")
        var replay = "forwarder-sim fleet --pcs \(pcs) --events-per-pc \(eventsPerPc) --seed \(seed) --world \(world)"
        if let chart { replay += " --chart \(chart)" }
        let startedAt = ContinuousClock.now
        let evidence: FleetEvidence
        let timeline: FleetTimeline
        let verdict: [CheckerViolation]
        var runLines: [String] = []
        if world == "live" {
            guard let executable = forwarder ?? BenchRunner.forwarderExecutable else {
                throw ValidationError("event-forwarder was not built beside forwarder-sim; build it or give --forwarder PATH.")
            }
            let result = try await LiveFleet(LiveFleetOptions(seed: seed, pcCount: pcs, eventsPerPC: eventsPerPc,
                                                              forwarderExecutable: executable, workFolder: workFolder)).run()
            (evidence, timeline, verdict) = (result.evidence, result.timeline, result.verdict)
            runLines.append("requests: \(evidence.journal.count), without an outcome in their forwarder's log: "
                + "\(result.requestsWithoutLoggedOutcome), wall: \(BenchFormat.duration(ContinuousClock.now - startedAt))")
        } else {
            let result = try await FleetSimulation(FleetOptions(seed: seed, pcCount: pcs, eventsPerPC: eventsPerPc)).run()
            (evidence, timeline, verdict) = (result.evidence, result.timeline, result.verdict)
            runLines.append("passes: \(result.passCount), requests: \(evidence.journal.count), simulated: "
                + "\(BenchFormat.decimal((result.endedAt - evidence.day.start).secondsValue / 3600, places: 1)) h, "
                + "wall: \(BenchFormat.duration(ContinuousClock.now - startedAt))")
            runLines.append("run digest: \(result.runDigest)")
        }
        for line in FleetReport.table(timeline, day: evidence.day) { print(line) }
        print("")
        for line in FleetReport.summary(evidence) + runLines { print(line) }
        if let chart {
            let svg = FleetChart.svg(timeline, day: evidence.day, capacityPerSecond: evidence.capacityPerSecond,
                                     title: "\(pcs) forwarders, one server (seed \(seed), \(world) world)")
            try svg.write(toFile: chart, atomically: true, encoding: .utf8)
            print("chart: \(chart)")
        }
        if verdict.isEmpty {
            print("verdict: PASS")
        } else {
            for violation in verdict { print("violation: \(violation)") }
            print("replay: \(replay)")
            print("verdict: FAIL")
            throw ExitCode(1)
        }
    }
}

