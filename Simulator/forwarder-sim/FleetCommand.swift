import ArgumentParser
import ForwarderCore
import ForwarderSimulation
import Foundation

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
    @Option(help: "Write an SVG chart of the server's load and each PC's backlog to this file.") var chart: String?

    func validate() throws {
        guard pcs > 0, pcs <= 2000 else { throw ValidationError("--pcs \(pcs): expected 1 to 2000.") }
        guard eventsPerPc > 0 else { throw ValidationError("--events-per-pc \(eventsPerPc): expected a positive number.") }
    }

    func run() async throws {
        let seed = seed ?? GenerateCommand.seedFromTime(FileTime(Date()))
        print("seed: \(seed)")
        var replay = "forwarder-sim fleet --pcs \(pcs) --events-per-pc \(eventsPerPc) --seed \(seed)"
        if let chart { replay += " --chart \(chart)" }
        let startedAt = ContinuousClock.now
        let result = try await FleetSimulation(FleetOptions(seed: seed, pcCount: pcs, eventsPerPC: eventsPerPc)).run()
        let elapsed = ContinuousClock.now - startedAt
        for line in FleetReport.table(result.timeline, day: result.options.day) { print(line) }
        print("")
        for line in FleetReport.summary(result.evidence) { print(line) }
        print("passes: \(result.passCount), requests: \(result.evidence.journal.count), simulated: "
            + "\(BenchFormat.decimal((result.endedAt - result.options.day.start).secondsValue / 3600, places: 1)) h, "
            + "wall: \(BenchFormat.duration(elapsed))")
        print("run digest: \(result.runDigest)")
        if let chart {
            let svg = FleetChart.svg(result.timeline, day: result.options.day,
                                     capacityPerSecond: result.evidence.capacityPerSecond,
                                     title: "\(pcs) forwarders, one server (seed \(seed))")
            try svg.write(toFile: chart, atomically: true, encoding: .utf8)
            print("chart: \(chart)")
        }
        if result.verdict.isEmpty {
            print("verdict: PASS")
        } else {
            for violation in result.verdict { print("violation: \(violation)") }
            print("replay: \(replay)")
            print("verdict: FAIL")
            throw ExitCode(1)
        }
    }
}

