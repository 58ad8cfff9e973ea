import ArgumentParser
import ForwarderCore
import ForwarderIO
import ForwarderSimulation
import Foundation
import SimulationHarness

/// `forwarder-sim crash`: the real `event-forwarder run` killed with SIGKILL again and again.
///
/// The forwarder's promise is that a crash costs at most the uploads in flight and never a
/// record or a loadable state; this runs the released executable as production runs it, a
/// separate process against the mock SFM on loopback, so nothing in-process can soften a kill.
struct CrashCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crash",
        abstract: "Kill the real forwarder with SIGKILL at seeded moments, restart it, and check nothing was lost.",
        discussion: """
        Generates a history folder (the seed is printed first), starts the mock SFM on 127.0.0.1, runs \
        `event-forwarder run` as a child process and --kills times kills it at a seeded moment (some in \
        the first moments after a start, the rest spread over the expected run), checks that the state \
        loads and holds only what the server has, and restarts it. Then it lets the forwarder finish, stops \
        it with SIGTERM (exit 0 expected) and checks: every event at the server with its report, the \
        state holding exactly the folder's binaries, and re-sends at most kills × concurrency. With \
        --faults the mock also follows a fault plan (the format of `serve --faults`, docs/MOCK-SFM.md): \
        re-sends may then also be the responses the plan dropped after the server stored the upload, \
        counted from the mock's journal. Exit 1 with the replay command when a rule broke. Use a \
        release build for realistic timing.
        """)

    @Option(help: "The seed of the folder and the kill moments (default: from the clock, printed).")
    var seed: UInt64?

    @Option(help: "Events in the generated folder.")
    var events = 20_000

    @Option(help: "SIGKILLs before the final run.")
    var kills = 20

    @Option(help: "Uploads in flight at once (SFM_UPLOAD_CONCURRENCY of the forwarder).")
    var concurrency = 4

    @Option(help: "Uploads per pass (SFM_MAX_FORWARDS_PER_PASS), 0 for unlimited.")
    var maxForwardsPerPass = 500

    @Option(help: "The event-forwarder executable (default: the one beside this executable).")
    var forwarder: String?

    @Option(help: "Seconds the forwarder may go without recording anything new after the last restart.")
    var drainTimeout: Double = 600

    @Option(name: [.customLong("faults"), .customLong("fault-plan")],
            help: "Fault plan JSON file for the mock SFM (as `serve --faults`); its seed defaults to --seed.")
    var faultPlanPath: String?

    @Flag(help: "Keep the temporary folder (folder, state, config, one log per run) and print where it is.")
    var keep = false

    func validate() throws {
        guard events > 0 else { throw ValidationError("--events must be positive.") }
        guard kills >= 0 else { throw ValidationError("--kills must not be negative.") }
        guard (1...64).contains(concurrency) else { throw ValidationError("--concurrency must be from 1 to 64.") }
        guard maxForwardsPerPass >= 0 else { throw ValidationError("--max-forwards-per-pass must not be negative.") }
        guard drainTimeout > 0 else { throw ValidationError("--drain-timeout must be positive.") }
    }

    func run() async throws {
        let chosenSeed = seed ?? GenerateCommand.seedFromTime(FileTime(Date()))
        print("seed: \(chosenSeed)")
        let replay = "forwarder-sim crash --seed \(chosenSeed) --events \(events) --kills \(kills) "
            + "--concurrency \(concurrency) --max-forwards-per-pass \(maxForwardsPerPass)"
            + (faultPlanPath.map { " --faults \($0)" } ?? "")
        let faultPlan = try faultPlanPath.map(Self.loadFaultPlan) ?? .none
        guard let executable = forwarder ?? BenchRunner.forwarderExecutable else {
            throw ValidationError("event-forwarder was not built beside forwarder-sim; build it or give --forwarder PATH.")
        }
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw ValidationError("--forwarder \(executable) is not an executable file.")
        }
        print("forwarder: \(executable) (forwarder-sim build: \(BuildKind.current))")
        if let faultPlanPath {
            print("faults: \(faultPlanPath): \(faultPlan.rules.map(\.name).joined(separator: ", ")) (seed \(faultPlan.seed ?? chosenSeed))")
        }
        // Owned here rather than by the harness, so the summary is printed before the (slow)
        // removal of hundreds of megabytes.
        let workFolder = try CrashTest.makeTemporaryFolder()
        defer {
            if keep {
                print("kept: \(workFolder)")
            } else {
                fflush(nil)
                FileHandle.standardError.write(Data("removing \(workFolder)\n".utf8))
                try? FileManager.default.removeItem(atPath: workFolder)
            }
        }
        let options = CrashTestOptions(
            seed: chosenSeed, eventCount: events, killCount: kills, uploadConcurrency: concurrency,
            forwarderExecutable: executable, forwardsPerPassLimit: maxForwardsPerPass,
            expectedEventsPerSecond: BuildKind.current == "release" ? 1500 : 40,
            drainTimeout: .milliseconds(Int64(drainTimeout * 1000)), workFolder: workFolder, faultPlan: faultPlan)
        let generation = ForwarderIO.ProgressLine(label: "generating")
        let result = try await CrashTest(options).run { event in
            switch event {
            case .generating(let written, let total):
                generation.update(done: written, total: total)
            case .generated(let summary, let elapsed):
                print("generated \(BenchFormat.grouped(summary.eventCount)) events, "
                    + "\(BenchFormat.grouped(summary.reportCount)) reports, "
                    + "\(BenchFormat.decimal(Double(summary.byteCount) / 1e6, places: 1)) MB in \(BenchFormat.duration(elapsed))")
            case .serverStarted(let url):
                print("mock SFM: \(url)")
            case .killed(let kill):
                let state = kill.stateRecords.map { "state loads, \(BenchFormat.grouped($0)) records" } ?? "STATE DOES NOT LOAD"
                var notes = ""
                if kill.duringCompaction {
                    notes += ", during compaction"
                } else if kill.aimedAtCompaction {
                    notes += ", watched for a compaction"
                }
                if kill.tornJournalBytes > 0 { notes += ", torn journal line of \(kill.tornJournalBytes) bytes dropped" }
                print("kill \(kill.number)/\(kills) after \(BenchFormat.duration(kill.delay)) (\(kill.phase.rawValue)\(notes)): "
                    + "\(state); server \(BenchFormat.grouped(kill.serverEvents)) events")
            case .draining(let serverEvents, let stateRecords, let expected):
                let line = "  final run: server \(BenchFormat.grouped(serverEvents))/\(BenchFormat.grouped(expected)) events, "
                    + "state \(BenchFormat.grouped(stateRecords)) records\n"
                FileHandle.standardError.write(Data(line.utf8))
            case .stopped(let status):
                print("final run stopped with SIGTERM: " + (status.map { "exit \($0)" } ?? "did not exit"))
            }
            // Lines printed so far go out first, so they interleave with progress on standard error in order.
            fflush(nil)
        }
        print("")
        print("seed: \(result.seed)")
        print("events: \(BenchFormat.grouped(result.eventCount)) (\(BenchFormat.grouped(result.expectedRecords)) distinct binaries), "
            + "concurrency: \(result.uploadConcurrency)")
        let phases = CrashPhase.allCases.map { "\(result.killCount(in: $0)) \($0.rawValue)" }.joined(separator: ", ")
        let compactions = result.kills.filter(\.duringCompaction).count
        print("kills: \(result.kills.count) (\(phases); \(compactions) during compaction)")
        if faultPlanPath != nil {
            print("faults: \(BenchFormat.grouped(result.faultedRequests)) requests faulted, "
                + "\(result.responsesLostAfterCommit) responses lost after commit")
            print("duplicates: \(result.duplicates) (limit kills × concurrency + responses lost after commit = "
                + "\(result.kills.count) × \(result.uploadConcurrency) + \(result.responsesLostAfterCommit) = \(result.duplicateLimit))")
        } else {
            print("duplicates: \(result.duplicates) (limit kills × concurrency = \(result.duplicateLimit))")
        }
        print("lost: \(result.lostEvents) events, \(result.lostReports) reports")
        print("state: \(result.finalStateRecords.map { BenchFormat.grouped($0) } ?? "not loaded") records, "
            + "server requests: \(BenchFormat.grouped(result.serverRequests))")
        print("elapsed: \(BenchFormat.duration(result.elapsed)) (generation \(BenchFormat.duration(result.generationElapsed)), "
            + "forwarding with kills \(BenchFormat.duration(result.forwardingElapsed)))")
        if result.passed {
            print("verdict: PASS")
        } else {
            for problem in result.problems { print("problem: \(problem)") }
            print("replay: \(replay)")
            print("verdict: FAIL")
            throw ExitCode(1)
        }
    }
}

extension CrashCommand {
    /// The plan in `path`; a file that cannot be read or decoded ends the command with status 2,
    /// naming the flag, the file and what is wrong.
    static func loadFaultPlan(_ path: String) throws -> FaultPlan {
        do {
            return try FaultPlan(json: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            FileHandle.standardError.write(Data("forwarder-sim: --faults \(path): not a fault plan: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }
}
