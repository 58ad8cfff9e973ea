import ArgumentParser
import ForwarderCore
import ForwarderIO
import ForwarderSimulation
import Foundation
import MockSFMServer

/// `forwarder-sim bench`: times the forwarder against the machine's own tools on one folder.
///
/// Each figure is the median of `--repeat` runs and is judged as a ratio to `find` (listing)
/// and `openssl` (hashing) on the same data, because absolute times on shared VMs vary by a
/// third from run to run while the ratios hold. The page cache is not dropped (that needs root
/// and disturbs everything else on the machine), so every figure is for a warm cache.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the forwarder against find and openssl on a generated folder; print medians and ratios.",
        discussion: """
        Generates a history-mode folder (the seed is printed), then times each operation --repeat times: \
        find -printf vs. a steady pass, openssl dgst over every binary vs. seed-state, a first pass over \
        a folder where 90 % of binaries lack reports, a full forward to the mock SFM on loopback, SHA-256 \
        throughput vs. openssl speed, event-forwarder's peak RSS with a 100,000-entry state and the load \
        time of a 1,000,000-entry state. Use a release build for figures worth quoting. Cache: warm.
        """,
        subcommands: [PeakMemoryCommand.self])

    @Option(help: "Events in the generated folder (default 100,000; 300 with --quick).")
    var events: Int?

    @Flag(help: "Use 300,000 events (overrides --events).")
    var large = false

    @Option(name: .customLong("repeat"),
            help: "Runs of each measurement; the median is reported (default 3; 1 with --quick).")
    var repeatOption: Int?

    @Flag(help: "A smoke run for CI, fast in a debug build: 300 events, one run each, 10,000-record states, 16 MiB hashed.")
    var quick = false

    @Option(help: "The seed of the generated folders and synthetic states (default: from the clock, printed).")
    var seed: UInt64?

    @Flag(help: "Measure several folder sizes and write a scaling table and chart.")
    var scaling = false

    @Option(help: "With --scaling: comma-separated event counts.")
    var scalingSizes: String = "10000,30000,100000,300000"

    @Option(help: "With --scaling: write the SVG chart here (e.g. docs/scaling.svg).")
    var chart: String?

    @Option(help: "With --scaling: also write the Markdown scaling table here.")
    var scalingTable: String?

    @Option(help: "Also time the reference Python forwarder's seed-state on a folder of this many events.")
    var pythonReference: Int?

    @Option(help: "The reference Python forwarder (default: ../shared/reference/event_forwarder.py from the working folder).")
    var pythonScript: String?

    @Option(name: .customLong("large-state-records"),
            help: "Records in the synthetic state whose load is timed (default 1,000,000; 10,000 with --quick).")
    var largeStateRecordsOption: Int?

    @Option(help: "Write the comparison table as Markdown here as well.")
    var markdown: String?

    @Option(help: "Where to create the temporary folders (default: the system's temporary folder).")
    var workDirectory: String?

    @Flag(help: "Only the full forward, with event-forwarder once and forwarder-sim serve each in its own process: events/s and each one's CPU per event.")
    var processes = false

    @Flag(help: "Only the steady pass in process against find -printf, run alternately: their ratio (target ≤ 1.3×).")
    var steadyVsFind = false

    @Option(help: "With --steady-vs-find: time this existing folder instead of generating one (only read; its state goes in the work folder).")
    var existingFolder: String?

    @Option(help: "Skip the full forward on folders of more events than this (default: never skip).")
    var fullForwardUpTo: Int?

    @Flag(help: "Keep the generated folders and states, and print where they are.")
    var keep = false

    var eventCount: Int { large ? 300_000 : events ?? (quick ? 300 : 100_000) }
    var repeatCount: Int { repeatOption ?? (quick ? 1 : 3) }
    var largeStateRecords: Int { largeStateRecordsOption ?? (quick ? 10_000 : 1_000_000) }
    /// Records of the synthetic state that `event-forwarder status` loads for the peak-RSS figure.
    var memoryStateRecords: Int { quick ? 10_000 : 100_000 }
    var hashByteCount: Int { (quick ? 16 : 128) << 20 }

    func validate() throws {
        guard eventCount > 0 else { throw ValidationError("--events must be positive.") }
        guard repeatCount > 0 else { throw ValidationError("--repeat must be at least 1.") }
        guard largeStateRecords > 0 else { throw ValidationError("--large-state-records must be positive.") }
        if let pythonReference, pythonReference <= 0 { throw ValidationError("--python-reference must be positive.") }
        if let fullForwardUpTo, fullForwardUpTo <= 0 { throw ValidationError("--full-forward-up-to must be positive.") }
        if pythonReference != nil, !FileManager.default.fileExists(atPath: resolvedPythonScript) {
            throw ValidationError("--python-reference: the reference Python forwarder is not at \(resolvedPythonScript); "
                + "it lives outside the repository (../shared/reference/event_forwarder.py): give its path with --python-script.")
        }
        if scaling, parsedScalingSizes == nil {
            throw ValidationError("--scaling-sizes must be positive whole numbers separated by commas, e.g. 10000,30000.")
        }
    }

    var parsedScalingSizes: [Int]? {
        let sizes = scalingSizes.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !sizes.isEmpty, sizes.allSatisfy({ ($0 ?? 0) > 0 }) else { return nil }
        return sizes.compactMap { $0 }.sorted()
    }

    func run() async throws {
        let chosenSeed = seed ?? GenerateCommand.seedFromTime(FileTime(Date()))
        print("seed: \(chosenSeed)")
        print("replay: forwarder-sim bench \(replayArguments(seed: chosenSeed))")
        print("cache: warm (the page cache is not dropped); build: \(BuildKind.current); "
            + "cores: \(ProcessInfo.processInfo.activeProcessorCount)")
        let root = (workDirectory ?? NSTemporaryDirectory()) + "/forwarder-bench-\(getpid())"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer {
            if keep { print("kept: \(root)") } else { try? FileManager.default.removeItem(atPath: root) }
        }
        let runner = BenchRunner(root: root, seed: chosenSeed, repeatCount: repeatCount, keepsFolders: keep,
                                 memoryStateRecords: memoryStateRecords, hashByteCount: hashByteCount,
                                 fullForwardLimit: fullForwardUpTo ?? .max)

        if processes {
            let rows = try ProcessForwardBench(eventCount: eventCount, repeatCount: repeatCount, seed: chosenSeed, root: root).run()
            print(BenchTable.text(rows), terminator: "")
            if let markdown { try BenchTable.markdown(rows).write(toFile: markdown, atomically: true, encoding: .utf8) }
            return
        }
        if steadyVsFind {
            let rows = try await SteadyVsFindBench(eventCount: eventCount, repeatCount: repeatCount, seed: chosenSeed, root: root,
                                             existingFolder: existingFolder).run()
            print(BenchTable.text(rows), terminator: "")
            if let markdown { try BenchTable.markdown(rows).write(toFile: markdown, atomically: true, encoding: .utf8) }
            return
        }
        if scaling {
            try await runScaling(runner: runner, sizes: parsedScalingSizes ?? [])
            return
        }
        let folderResult = try await runner.measureFolder(eventCount: eventCount)
        let machine = try await runner.measureMachine(largeStateRecords: largeStateRecords, rssFolder: folderResult.folderPath)
        var rows = folderResult.rows + machine.rows
        rows += try StateScaleBench(root: root, seed: chosenSeed, repeatCount: repeatCount)
            .rows(sizes: quick ? [1_000, 3_000, 10_000] : [100_000, 300_000, 1_000_000],
                  versionOneRecords: quick ? 1_000 : 1_000_000)
        if let pythonReference {
            rows += try await runner.measurePythonReference(eventCount: pythonReference, script: resolvedPythonScript)
        }
        print("")
        print("events: \(BenchFormat.grouped(eventCount)), repeats: \(repeatCount), medians; cache: warm")
        print(BenchTable.text(rows), terminator: "")
        if let markdown { try BenchTable.markdown(rows).write(toFile: markdown, atomically: true, encoding: .utf8) }
    }

    private func runScaling(runner: BenchRunner, sizes: [Int]) async throws {
        var results: [FolderMeasurement] = []
        for size in sizes {
            let result = try await runner.measureFolder(eventCount: size)
            print("")
            print("events: \(BenchFormat.grouped(size)), repeats: \(repeatCount), medians; cache: warm")
            print(BenchTable.text(result.rows), terminator: "")
            results.append(result)
            if !keep, size != sizes.last { try? FileManager.default.removeItem(atPath: result.folderPath) }
        }
        if let largest = results.last {
            let machine = try await runner.measureMachine(largeStateRecords: largeStateRecords, rssFolder: largest.folderPath)
            var rows = largest.rows + machine.rows
            if let pythonReference {
                rows += try await runner.measurePythonReference(eventCount: pythonReference, script: resolvedPythonScript)
            }
            print("")
            print("events: \(BenchFormat.grouped(largest.eventCount)) (largest), repeats: \(repeatCount), medians; cache: warm")
            print(BenchTable.text(rows), terminator: "")
            if let markdown { try BenchTable.markdown(rows).write(toFile: markdown, atomically: true, encoding: .utf8) }
        }
        let series = FolderMeasurement.scalingSeries(results)
        let table = ScalingChart.markdownTable(series)
        print("")
        print(table, terminator: "")
        if let scalingTable { try table.write(toFile: scalingTable, atomically: true, encoding: .utf8) }
        if let chart {
            let title = "Time per event vs. folder size (\(BuildKind.current), warm cache, median of \(repeatCount))"
            try ScalingChart.svg(series, title: title).write(toFile: chart, atomically: true, encoding: .utf8)
            print("chart: \(chart)")
        }
        // Last, because deleting a 100,000-event folder can take minutes on a busy disk.
        if !keep { results.forEach { try? FileManager.default.removeItem(atPath: $0.folderPath) } }
    }

    private var resolvedPythonScript: String {
        pythonScript ?? FileManager.default.currentDirectoryPath + "/../shared/reference/event_forwarder.py"
    }

    private func replayArguments(seed: UInt64) -> String {
        var arguments = ["--seed", "\(seed)", "--repeat", "\(repeatCount)"]
        if scaling {
            arguments += ["--scaling", "--scaling-sizes", scalingSizes]
        } else {
            arguments += ["--events", "\(eventCount)"]
        }
        if quick { arguments.append("--quick") }
        if processes { arguments.append("--processes") }
        if steadyVsFind { arguments.append("--steady-vs-find") }
        if let existingFolder { arguments += ["--existing-folder", existingFolder] }
        if let largeStateRecordsOption { arguments += ["--large-state-records", "\(largeStateRecordsOption)"] }
        if let pythonReference { arguments += ["--python-reference", "\(pythonReference)"] }
        if let fullForwardUpTo { arguments += ["--full-forward-up-to", "\(fullForwardUpTo)"] }
        return arguments.joined(separator: " ")
    }
}

/// Whether this executable was built for debugging or release, for the output's header.
enum BuildKind {
    #if DEBUG
    static let current = "debug"
    #else
    static let current = "release"
    #endif
}

/// The medians of everything measured on one folder size.
struct FolderMeasurement {
    var eventCount: Int
    var folderPath: String
    var find: Duration
    var openssl: Duration
    var seedState: Duration
    var steadyPass: Duration
    var forwardedCount: Int
    /// Nil when the folder was larger than `--full-forward-up-to`.
    var fullForward: Duration?
    var sparseSteadyPass: Duration
    var firstPass: Duration

    var rows: [BenchRow] {
        var rows = [
            BenchRow(measurement: "steady pass, fully forwarded", value: .duration(steadyPass), eventCount: eventCount,
                     reference: "find -printf (listing floor)", referenceValue: .duration(find), target: .ratioAtMost(3)),
            BenchRow(measurement: "seed-state (list, hash, record)", value: .duration(seedState), eventCount: eventCount,
                     reference: "xargs openssl dgst -sha256", referenceValue: .duration(openssl), target: .ratioAtMost(1)),
            BenchRow(measurement: "first pass, 90 % without report (dry run)", value: .duration(firstPass),
                     eventCount: eventCount, reference: "steady pass + seed-state",
                     referenceValue: .duration(sparseSteadyPass + seedState), target: .ratioAtMost(3)),
        ]
        if let fullForward {
            let forwardRate = Double(forwardedCount) / max(fullForward.secondsValue, 1e-9)
            rows.append(BenchRow(measurement: "full forward to mock, loopback, no cap", value: .rate(forwardRate, unit: "events/s"),
                                 eventCount: forwardedCount, target: .valueAtLeast(2500)))
        }
        return rows
    }

    /// Time per event of each operation across sizes, forwarder lines first, then machine floors.
    static func scalingSeries(_ results: [FolderMeasurement]) -> [ScalingSeries] {
        func series(_ name: String, floor: Bool = false, _ elapsed: (FolderMeasurement) -> Duration?) -> ScalingSeries {
            ScalingSeries(name: name, points: results.compactMap { result in
                elapsed(result).flatMap { BenchStatistics.microsecondsPerEvent($0, eventCount: result.eventCount) }
                    .map { ScalingPoint(eventCount: result.eventCount, microsecondsPerEvent: $0) }
            }, isMachineFloor: floor)
        }
        return [
            series("full forward") { $0.fullForward },
            series("first pass (dry run)") { $0.firstPass },
            series("seed-state") { $0.seedState },
            series("steady pass") { $0.steadyPass },
            series("openssl dgst", floor: true) { $0.openssl },
            series("find -printf", floor: true) { $0.find },
        ]
    }
}

/// `forwarder-sim bench peak-rss --result FILE -- COMMAND...`: runs a command and writes its peak RSS.
///
/// A helper of `bench`, hidden from help: started as a fresh process, it is small when it
/// spawns the command, so the peak that `wait4` reports is the command's own.
struct PeakMemoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peak-rss", abstract: "Run a command and write its peak resident memory.", shouldDisplay: false)

    @Option(help: "Write `peak_rss_kilobytes=N exit_status=S elapsed_seconds=T` here.")
    var result: String

    @Argument(parsing: .captureForPassthrough, help: "The command (absolute path) and its arguments.")
    var command: [String]

    func run() throws {
        let arguments = command.first == "--" ? Array(command.dropFirst()) : command
        guard let executable = arguments.first else { throw ValidationError("Give a command after --.") }
        let outcome = try ChildProcess.run(executable, arguments: Array(arguments.dropFirst()))
        try "peak_rss_kilobytes=\(outcome.peakResidentKilobytes) exit_status=\(outcome.exitStatus) elapsed_seconds=\(outcome.elapsed.secondsValue)\n"
            .write(toFile: result, atomically: true, encoding: .utf8)
        if outcome.exitStatus != 0 { throw ExitCode(outcome.exitStatus) }
    }
}

/// Keeps a value alive so the optimizer cannot drop the work that produced it.
@inline(never)
func blackHole<T>(_ value: T) {}
