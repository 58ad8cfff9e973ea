import ArgumentParser
import ForwarderCore
import ForwarderIO
import ForwarderSimulation
import Foundation
import SimulationHarness

/// `forwarder-sim soak`: the real `event-forwarder run` for many passes over a live folder,
/// watched for growing memory and descriptors.
///
/// The forwarder runs for years on PCs nobody watches; a leak of a few kilobytes a pass is
/// invisible in a test of a minute and fatal in a year. This runs the executable as production
/// runs it and samples `/proc` after every pass.
struct SoakCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak",
        abstract: "Run the real forwarder for many passes over a live folder and check that its memory and descriptors stay flat.",
        discussion: """
        Prints the seed first. Writes a backlog, starts the mock SFM on 127.0.0.1 with light faults (or \
        --faults FILE, the format of `serve --faults`), runs `event-forwarder run` as a child process while \
        events and reports keep arriving in rounds, and after each `pass finished` line of its JSON log \
        samples VmRSS of /proc/PID/status and the entries of /proc/PID/fd. After --passes passes it stops \
        the arrivals, lets the forwarder send the rest, stops it with SIGTERM (exit 0 expected) and checks: \
        after the warm-up (the first --warm-up-percent of samples) the median of the last --window-percent \
        of samples exceeds the median of the first window after warm-up by at most --growth-percent (for \
        descriptors at least --descriptor-slack); every event at the server with its report; no upload that \
        changed nothing beyond the responses the faults dropped after commit. Exit 1 when a rule broke. Linux only.
        """)

    @Option(help: "The seed of the backlog, the arrivals and the faults (default: from the clock, printed).")
    var seed: UInt64?

    @Option(help: "Passes sampled.")
    var passes = 300

    @Option(help: "Seconds between passes (SFM_FORWARD_INTERVAL_SECONDS).")
    var passInterval: Double = 1

    @Option(help: "Events in the folder before the forwarder starts.")
    var backlog = 300

    @Option(help: "Events per round of arrivals.")
    var eventsPerRound = 10

    @Option(help: "How many times faster than real time arrivals are written.")
    var arrivalSpeed: Double = 4

    @Option(help: "Simulated seconds of quiet between two arriving writes are cut to this (before --arrival-speed).")
    var arrivalGap: Double = 20

    @Option(name: [.customLong("faults"), .customLong("fault-plan")],
            help: "Fault plan JSON file for the mock SFM (default: light resets, 503s, lost answers and delays).")
    var faultPlanPath: String?

    @Option(help: "Uploads in flight at once (SFM_UPLOAD_CONCURRENCY).")
    var concurrency = 2

    @Option(help: "Share of samples left out at the start, in percent.")
    var warmUpPercent: Double = 20

    @Option(help: "Share of samples in each compared window, in percent (at least 3 samples).")
    var windowPercent: Double = 10

    @Option(help: "Growth allowed from the first window after warm-up to the last, in percent.")
    var growthPercent: Double = 5

    @Option(help: "Descriptors the count may grow by whatever --growth-percent says.")
    var descriptorSlack = 2

    @Option(help: "Show every k-th sample in the table (default: about 20 rows).")
    var every: Int?

    @Option(help: "Seconds the forwarder may go without progress after the last sampled pass.")
    var drainTimeout: Double = 300

    @Option(help: "The event-forwarder executable (default: the one beside this executable).")
    var forwarder: String?

    @Flag(help: "Keep the temporary folder (folder, state, config, log) and print where it is.")
    var keep = false

    func validate() throws {
        let checks: [(Bool, String)] = [
            (passes > 0, "--passes must be positive"), (passInterval > 0, "--pass-interval must be positive"),
            (backlog >= 0, "--backlog must not be negative"), (eventsPerRound > 0, "--events-per-round must be positive"),
            (arrivalSpeed > 0, "--arrival-speed must be positive"), (arrivalGap > 0, "--arrival-gap must be positive"),
            ((1...64).contains(concurrency), "--concurrency must be from 1 to 64"),
            ((0..<100).contains(warmUpPercent), "--warm-up-percent must be from 0 to below 100"),
            (windowPercent > 0 && windowPercent <= 50, "--window-percent must be above 0 and at most 50"),
            (growthPercent >= 0, "--growth-percent must not be negative"),
            (descriptorSlack >= 0, "--descriptor-slack must not be negative"),
            ((every ?? 1) > 0, "--every must be positive"), (drainTimeout > 0, "--drain-timeout must be positive"),
        ]
        if let failed = checks.first(where: { !$0.0 }) { throw ValidationError(failed.1 + ".") }
        let rule = growthRule
        guard passes >= rule.minimumSampleCount(forPasses: passes) else {
            throw ValidationError("--passes \(passes) is too few for a warm-up and two windows of at least "
                + "\(SoakGrowthRule.minimumWindowSamples) samples: \(rule.minimumSampleCount(forPasses: passes)) needed.")
        }
    }

    var growthRule: SoakGrowthRule {
        SoakGrowthRule(warmUpShare: warmUpPercent / 100, windowShare: windowPercent / 100,
                       allowedGrowthShare: growthPercent / 100, descriptorSlack: descriptorSlack)
    }

    func run() async throws {
        let chosenSeed = seed ?? GenerateCommand.seedFromTime(FileTime(Date()))
        print("seed: \(chosenSeed)")
        guard let executable = forwarder ?? BenchRunner.forwarderExecutable else {
            throw ValidationError("event-forwarder was not built beside forwarder-sim; build it or give --forwarder PATH.")
        }
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw ValidationError("--forwarder \(executable) is not an executable file.")
        }
        let faultPlan = try faultPlanPath.map(CrashCommand.loadFaultPlan) ?? SoakTestOptions.lightFaults(seed: chosenSeed)
        print("forwarder: \(executable) (forwarder-sim build: \(BuildKind.current))")
        print("faults: \(faultPlanPath ?? "light (default)"): \(faultPlan.rules.map(\.name).joined(separator: ", "))")
        let workFolder = try CrashTest.makeTemporaryFolder()
        defer {
            if keep {
                print("kept: \(workFolder)")
            } else {
                try? FileManager.default.removeItem(atPath: workFolder)
            }
        }
        let options = SoakTestOptions(
            seed: chosenSeed, passes: passes, passInterval: .milliseconds(Int64(passInterval * 1000)),
            forwarderExecutable: executable, backlogEvents: backlog, eventsPerRound: eventsPerRound,
            arrivalSpeed: arrivalSpeed, arrivalQuietGap: .milliseconds(Int64(arrivalGap * 1000)), faultPlan: faultPlan,
            uploadConcurrency: concurrency, growthRule: growthRule,
            drainTimeout: .milliseconds(Int64(drainTimeout * 1000)), workFolder: workFolder)
        let passes = passes
        let sampling = ForwarderIO.ProgressLine(label: "passes")
        let result = try await SoakTest(options).run { event in
            switch event {
            case .backlogWritten(let events):
                print("backlog: \(BenchFormat.grouped(events)) events")
            case .serverStarted(let url):
                print("mock SFM: \(url)")
            case .sampled(let sample):
                sampling.update(done: min(sample.pass, passes), total: passes)
            case .draining(let serverEvents, let expected):
                let line = "  draining: server \(BenchFormat.grouped(serverEvents))/\(BenchFormat.grouped(expected)) events\n"
                FileHandle.standardError.write(Data(line.utf8))
            case .stopped(let status):
                print("stopped with SIGTERM: " + (status.map { "exit \($0)" } ?? "did not exit"))
            }
            fflush(nil)
        }
        Self.printReport(result, every: every ?? max(1, result.samples.count / 20), rule: growthRule)
        if !result.passed {
            print("replay: forwarder-sim soak --seed \(chosenSeed) --passes \(passes) --pass-interval \(passInterval)"
                + (faultPlanPath.map { " --faults \($0)" } ?? ""))
            print("verdict: FAIL")
            throw ExitCode(1)
        }
        print("verdict: PASS")
    }

    static func printReport(_ result: SoakTestResult, every: Int, rule: SoakGrowthRule) {
        print("")
        print("   pass   elapsed    RSS MB  anon MB   fds   server events")
        for (index, sample) in result.samples.enumerated() where index % every == 0 || index == result.samples.count - 1 {
            print(pad(String(sample.pass), 7) + pad(BenchFormat.duration(sample.elapsed), 10)
                + pad(BenchFormat.decimal(Double(sample.residentKilobytes) / 1024, places: 1), 10)
                + pad(BenchFormat.decimal(Double(sample.anonymousKilobytes) / 1024, places: 1), 9)
                + pad(String(sample.openDescriptors), 6) + pad(BenchFormat.grouped(sample.serverEvents), 16))
        }
        print("")
        print("seed: \(result.seed)")
        let warmUp = Int((Double(result.samples.count) * rule.warmUpShare).rounded(.up))
        print("samples: \(result.samples.count), warm-up: first \(warmUp); growth = median of the last window "
            + "over the median of the first window after warm-up")
        if let resident = result.resident {
            print("RSS: \(mebibytes(resident.baseline)) MB -> \(mebibytes(resident.end)) MB "
                + "(\(signed(resident.growthPercent)) %, allowed +\(mebibytes(resident.allowance)) MB)")
        }
        if let descriptors = result.descriptors {
            print("fds: \(SoakTest.number(descriptors.baseline)) -> \(SoakTest.number(descriptors.end)) "
                + "(\(signed(descriptors.growthPercent)) %, allowed +\(SoakTest.number(descriptors.allowance)))")
        }
        print("events: \(BenchFormat.grouped(result.events)) (backlog and \(result.arrivalRounds) rounds of arrivals), "
            + "lost \(result.lostEvents), reports lost \(result.lostReports), late reports attached \(result.updates)")
        print("duplicates: \(result.duplicates) (limit: responses lost after commit = \(result.responsesLostAfterCommit)); "
            + "server requests \(BenchFormat.grouped(result.stats.requests)), faulted \(BenchFormat.grouped(result.stats.faultedRequests))")
        print("elapsed: \(BenchFormat.duration(result.elapsed))")
        for problem in result.problems { print("problem: \(problem)") }
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }

    private static func mebibytes(_ kilobytes: Double) -> String { BenchFormat.decimal(kilobytes / 1024, places: 1) }

    private static func signed(_ value: Double) -> String { (value >= 0 ? "+" : "") + BenchFormat.decimal(value, places: 1) }
}
