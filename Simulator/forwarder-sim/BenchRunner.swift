import ArgumentParser
import ForwarderCore
import ForwarderIO
import ForwarderSimulation
import Foundation
import MockSFMServer

/// Size-independent figures: hashing throughput, memory, state load.
struct MachineMeasurement {
    var rows: [BenchRow]
}

/// Runs the measurements; every repeated figure is a median.
struct BenchRunner {
    let root: String
    let seed: UInt64
    let repeatCount: Int
    let keepsFolders: Bool
    let memoryStateRecords: Int
    let hashByteCount: Int
    /// Folders with more events than this skip the full forward (it dominates a 300,000-event run).
    let fullForwardLimit: Int

    private func progress(_ text: String) {
        // Results printed so far go out first, so they interleave with progress lines in order.
        fflush(nil)
        FileHandle.standardError.write(Data("  \(text)\n".utf8))
    }

    private func median(_ label: String, _ body: () async throws -> Duration) async throws -> Duration {
        var samples: [Duration] = []
        for _ in 0..<repeatCount { samples.append(try await body()) }
        let result = BenchStatistics.median(samples) ?? .zero
        progress("\(label): " + samples.map(BenchFormat.duration).joined(separator: ", ") + " → median \(BenchFormat.duration(result))")
        return result
    }

    func measureFolder(eventCount: Int) async throws -> FolderMeasurement {
        let folderPath = root + "/ach-\(eventCount)"
        let generationStarted = ContinuousClock.now
        let folder = try BenchFolder.generate(into: folderPath, eventCount: eventCount, seed: seed)
        print("generated \(BenchFormat.grouped(folder.summary.eventCount)) events, \(BenchFormat.grouped(folder.summary.reportCount)) reports, "
            + "\(BenchFormat.decimal(Double(folder.summary.byteCount) / 1e6, places: 1)) MB in "
            + "\(BenchFormat.duration(ContinuousClock.now - generationStarted)) "
            + "(replay: forwarder-sim generate --into DIR --seed \(seed) --start \(GenerateCommand.formatStart(folder.periodStart)) --events \(eventCount))")
        let listPath = root + "/binaries-\(eventCount).list"
        try folder.writeBinaryList(to: listPath)
        let statePath = root + "/state-\(eventCount)"

        let find = try await median("find -printf") {
            try ChildProcess.shellChecked("find \"$1\" -printf '%s %T@\\n' > /dev/null", arguments: [folderPath]).elapsed
        }
        let openssl = try await median("xargs openssl dgst -sha256") {
            try ChildProcess.shellChecked("cd \"$1\" && xargs -0 openssl dgst -sha256 < \"$2\" > /dev/null",
                                          arguments: [folderPath, listPath]).elapsed
        }
        var seedReport = SeedReport()
        let seedState = try await median("seed-state") {
            let (report, elapsed) = try await BenchWorkloads.seedState(folder: folderPath, statePath: statePath)
            seedReport = report
            return elapsed
        }
        progress("seed-state: \(seedReport.summary)")
        let steadyPass = try await steadyPassMedian(label: "steady pass", folderPath: folderPath, statePath: statePath)

        var forwardedCount = 0
        var fullForward: Duration?
        if eventCount <= fullForwardLimit {
            fullForward = try await median("full forward") {
                let (report, elapsed) = try await forwardEverything(folderPath: folderPath, statePath: root + "/forward-state-\(eventCount)")
                forwardedCount = report.forwarded
                if report.errors > 0 { progress("full forward: \(report.summary)") }
                return elapsed
            }
            progress("full forward: \(BenchFormat.grouped(forwardedCount)) events accepted")
        } else {
            progress("full forward: not run above \(BenchFormat.grouped(fullForwardLimit)) events (--full-forward-up-to)")
        }

        let removed = try folder.removeReports(keepingEvery: 10)
        progress("removed \(BenchFormat.grouped(removed)) reports: 90 % of binaries now lack one")
        let sparseSteadyPass = try await steadyPassMedian(label: "steady pass, sparse reports", folderPath: folderPath,
                                                          statePath: statePath)
        var firstPassCandidates = 0
        let firstPass = try await median("first pass (dry run)") {
            let firstStatePath = root + "/first-state-\(eventCount)"
            BenchWorkloads.removeState(at: firstStatePath)
            let (forwarder, store) = try BenchWorkloads.openForwarder(folder: folderPath, statePath: firstStatePath, dryRun: true)
            let (report, elapsed) = try await BenchWorkloads.timedPass(forwarder)
            try store.close()
            firstPassCandidates = report.pending
            return elapsed
        }
        progress("first pass: \(BenchFormat.grouped(firstPassCandidates)) candidates hashed")
        if !keepsFolders {
            for path in [statePath, root + "/forward-state-\(eventCount)", root + "/first-state-\(eventCount)"] {
                BenchWorkloads.removeState(at: path)
            }
            unlink(listPath)
        }
        return FolderMeasurement(eventCount: eventCount, folderPath: folderPath, find: find, openssl: openssl,
                                 seedState: seedState, steadyPass: steadyPass, forwardedCount: forwardedCount,
                                 fullForward: fullForward, sparseSteadyPass: sparseSteadyPass, firstPass: firstPass)
    }

    /// Opens the state once (a running forwarder has it loaded) and times `repeatCount` passes.
    private func steadyPassMedian(label: String, folderPath: String, statePath: String) async throws -> Duration {
        let (forwarder, store) = try BenchWorkloads.openForwarder(folder: folderPath, statePath: statePath)
        var lastReport: PassReport?
        let result = try await median(label) {
            let (report, elapsed) = try await BenchWorkloads.timedPass(forwarder)
            lastReport = report
            return elapsed
        }
        try store.close()
        if let lastReport, lastReport.pending > 0 || lastReport.uploadsAttempted > 0 {
            progress("\(label): not steady: \(lastReport.summary)")
        }
        return result
    }

    /// Forwards every event of the folder to a fresh mock SFM on 127.0.0.1 with no upload cap.
    private func forwardEverything(folderPath: String, statePath: String) async throws -> (PassReport, Duration) {
        BenchWorkloads.removeState(at: statePath)
        let server = try await MockSFMServer.start(configuration: MockSFM.Configuration(seed: seed, retainsReportText: false))
        let uploader = try HTTPEventUploader(baseURL: server.baseURL, serialHint: nil, requestTimeout: .seconds(60))
        do {
            let (forwarder, store) = try BenchWorkloads.openForwarder(folder: folderPath, statePath: statePath, uploader: uploader)
            let result = try await BenchWorkloads.timedPass(forwarder)
            try store.close()
            await uploader.shutdown()
            try await server.shutdown()
            return result
        } catch {
            await uploader.shutdown()
            try? await server.shutdown()
            throw error
        }
    }

    func measureMachine(largeStateRecords: Int, rssFolder: String) async throws -> MachineMeasurement {
        var rows: [BenchRow] = []
        let bytes = BenchWorkloads.randomBytes(byteCount: hashByteCount, seed: seed)
        let mebibytes = "\(hashByteCount >> 20) MiB"
        let blocks = BenchWorkloads.randomBytes(byteCount: 16 << 10, seed: seed)
        // openssl speed hashes one 16 KiB buffer over and over (it stays in cache) and divides by
        // CPU user time; the same here, with this thread's CPU time.
        let blockHashing = try await median("SHA-256 of 16 KiB blocks, \(mebibytes) in all, in process (CPU time)") {
            let started = BenchWorkloads.threadCPUTime()
            for _ in 0..<(hashByteCount / blocks.count) { blackHole(EventDigest(of: blocks)) }
            return BenchWorkloads.threadCPUTime() - started
        }
        let bufferHashing = try await median("SHA-256 of one \(mebibytes) buffer in process (wall time)") {
            BenchWorkloads.timedDigest(of: bytes).elapsed
        }
        let blockRate = Double(hashByteCount) / blockHashing.secondsValue / 1e9
        let speedPath = root + "/openssl-speed.txt"
        try ChildProcess.shellChecked("openssl speed -evp sha256 -bytes 16384 -seconds 2 > \"$1\" 2>/dev/null",
                                      arguments: [speedPath])
        let speedOutput = (try? String(contentsOfFile: speedPath, encoding: .utf8)) ?? ""
        let opensslRate = MachineToolOutput.opensslBytesPerSecond(speedOutput)
        if opensslRate == nil { progress("openssl speed: no sha256 figure in its output") }
        rows.append(BenchRow(measurement: "SHA-256 in process (EventDigest, 16 KiB blocks, CPU time)", value: .rate(blockRate, unit: "GB/s"),
                             reference: opensslRate.map { _ in "openssl speed -evp sha256, 16 KB (CPU time)" },
                             referenceValue: opensslRate.map { .rate($0 / 1e9, unit: "GB/s") },
                             target: opensslRate.map { _ in .ratioAtLeast(0.9) }))
        rows.append(BenchRow(measurement: "SHA-256 in process (EventDigest, one \(mebibytes) buffer, wall)",
                             value: .rate(Double(hashByteCount) / bufferHashing.secondsValue / 1e9, unit: "GB/s")))

        let smallStatePath = root + "/synthetic-state-small"
        try BenchWorkloads.writeSyntheticState(recordCount: memoryStateRecords, seed: seed, to: smallStatePath)
        if let byteCount = try peakMemory(statePath: smallStatePath, folderPath: rssFolder) {
            rows.append(BenchRow(measurement: "peak RSS: event-forwarder status, \(ScalingChart.sizeLabel(memoryStateRecords))-entry state",
                                 value: .byteCount(byteCount)))
        }
        BenchWorkloads.removeState(at: smallStatePath)

        let largeStatePath = root + "/synthetic-state-large"
        try BenchWorkloads.writeSyntheticState(recordCount: largeStateRecords, seed: seed &+ 1, to: largeStatePath)
        var loadedCount = 0
        let load = try await median("load \(BenchFormat.grouped(largeStateRecords))-entry state") {
            let (count, elapsed) = try BenchWorkloads.loadState(at: largeStatePath)
            loadedCount = count
            return elapsed
        }
        // The design's bound ("a million records load in well under two seconds") is for 1M records.
        rows.append(BenchRow(measurement: "load \(ScalingChart.sizeLabel(loadedCount))-entry state (read-only)",
                             value: .duration(load), eventCount: loadedCount,
                             target: loadedCount == 1_000_000 ? .valueAtMost(2) : nil))
        if let byteCount = try peakMemory(statePath: largeStatePath, folderPath: rssFolder) {
            rows.append(BenchRow(measurement: "peak RSS: event-forwarder status, \(ScalingChart.sizeLabel(loadedCount))-entry state",
                                 value: .byteCount(byteCount)))
        }
        BenchWorkloads.removeState(at: largeStatePath)
        return MachineMeasurement(rows: rows)
    }

    /// Peak resident memory of `event-forwarder status` over `folderPath` with the state at
    /// `statePath`, or nil when `event-forwarder` was not built beside this executable.
    ///
    /// Measured through `bench peak-rss`, a fresh small process: a child spawned directly from
    /// this one would inherit this process's (large) peak RSS at `exec`, and `wait4` would
    /// report that instead of the forwarder's own.
    private func peakMemory(statePath: String, folderPath: String) throws -> Int64? {
        guard let executable = Self.forwarderExecutable, let simulator = Self.simulatorExecutable else {
            progress("event-forwarder not found beside forwarder-sim: peak RSS not measured")
            return nil
        }
        let resultPath = root + "/peak-rss.txt"
        try ChildProcess.shellChecked(
            "exec \"$1\" bench peak-rss --result \"$2\" -- \"$3\" status --watch \"$4\" --state \"$5\" > /dev/null",
            arguments: [simulator, resultPath, executable, folderPath, statePath])
        let text = try String(contentsOfFile: resultPath, encoding: .utf8)
        guard let kilobytes = MachineToolOutput.peakResidentKilobytes(fromProbeResult: text) else {
            throw ChildProcessError(commandLine: "bench peak-rss", detail: "unreadable result \"\(text)\"")
        }
        return Int64(kilobytes) * 1024
    }

    /// The reference Python forwarder's seed-state against ours on a small folder of its own.
    func measurePythonReference(eventCount: Int, script: String) async throws -> [BenchRow] {
        guard FileManager.default.fileExists(atPath: script) else {
            progress("python reference: \(script) not found; skipped")
            return []
        }
        let folderPath = root + "/ach-python-\(eventCount)"
        let folder = try BenchFolder.generate(into: folderPath, eventCount: eventCount, seed: seed &+ 2)
        let pythonState = root + "/python-state.json"
        let python = try await median("python seed-state (\(eventCount) events)") {
            unlink(pythonState)
            return try ChildProcess.shellChecked(
                "exec python3 \"$1\" --seed-state --watch \"$2\" --state \"$3\" --max-age-days 36500 > /dev/null",
                arguments: [script, folderPath, pythonState]).elapsed
        }
        let ours = try await median("seed-state (\(eventCount) events)") {
            try await BenchWorkloads.seedState(folder: folderPath, statePath: root + "/python-compare-state").elapsed
        }
        if !keepsFolders {
            try? FileManager.default.removeItem(atPath: folderPath)
            unlink(pythonState)
            BenchWorkloads.removeState(at: root + "/python-compare-state")
        }
        return [BenchRow(measurement: "seed-state, \(BenchFormat.grouped(folder.manifest.count)) events", value: .duration(ours),
                         eventCount: folder.manifest.count, reference: "Python reference seed-state",
                         referenceValue: .duration(python))]
    }

    /// This executable's absolute path.
    static var simulatorExecutable: String? {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? Bundle.main.executablePath
    }

    /// `event-forwarder` from the same build folder as this executable, when it was built.
    static var forwarderExecutable: String? {
        guard let selfPath = simulatorExecutable else { return nil }
        let candidate = (selfPath as NSString).deletingLastPathComponent + "/event-forwarder"
        return FileManager.default.isExecutableFile(atPath: candidate) ? candidate : nil
    }
}
