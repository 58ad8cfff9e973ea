import ForwarderCore
import ForwarderSimulation
import Foundation

/// The state-size rows of `forwarder-sim bench` (issue #14): how `event-forwarder status`'s
/// peak memory and time grow with the state, the bytes each record adds, and the import of a
/// Python version-1 state.
///
/// Each figure is a whole `event-forwarder` process over an empty folder, so that the state
/// alone is measured, started through `bench peak-rss` (see `BenchRunner.peakMemory`). The
/// import is `seed-state` on a copy of the file: it converts the file in place, keeps the
/// backup and writes the new snapshot, as the first run after an upgrade does.
struct StateScaleBench {
    let root: String
    let seed: UInt64
    let repeatCount: Int

    /// One process's peak RSS and wall time, medians of `repeatCount` runs.
    struct Probe {
        var peakBytes: Int64
        var elapsed: Duration
    }

    /// Rows for states of `sizes` records (smallest first) and a version-1 import of
    /// `versionOneRecords` entries; the issue's targets apply at a million records only, where
    /// the process's own pages no longer dominate.
    func rows(sizes: [Int], versionOneRecords: Int) throws -> [BenchRow] {
        guard let forwarder = BenchRunner.forwarderExecutable, let simulator = BenchRunner.simulatorExecutable else {
            FileHandle.standardError.write(Data("event-forwarder not found beside forwarder-sim: state-size rows not measured\n".utf8))
            return []
        }
        let emptyFolder = root + "/empty-folder"
        try FileManager.default.createDirectory(atPath: emptyFolder, withIntermediateDirectories: true)
        var rows: [BenchRow] = []
        var peaks: [(records: Int, bytes: Int64)] = []
        for (index, size) in sizes.enumerated() {
            let statePath = root + "/scale-state-\(size)"
            try BenchWorkloads.writeSyntheticState(recordCount: size, seed: seed &+ UInt64(10 + index), to: statePath)
            let probe = try median("status, \(BenchFormat.grouped(size))-entry state") {
                try run(simulator: simulator, forwarder: forwarder, arguments: ["status", "--watch", emptyFolder, "--state", statePath])
            }
            BenchWorkloads.removeState(at: statePath)
            let label = ScalingChart.sizeLabel(size)
            rows.append(BenchRow(measurement: "peak RSS: status, \(label)-entry state, empty folder", value: .byteCount(probe.peakBytes),
                                 target: size == 1_000_000 ? .valueAtMost(128 * 1_048_576) : nil))
            rows.append(BenchRow(measurement: "status, \(label)-entry state (load + report, whole process)", value: .duration(probe.elapsed),
                                 eventCount: size, target: size == 1_000_000 ? .valueAtMost(0.4) : nil))
            peaks.append((size, probe.peakBytes))
        }
        if let first = peaks.first, let last = peaks.last, last.records > first.records {
            let perRecord = Double(last.bytes - first.bytes) / Double(last.records - first.records)
            rows.append(BenchRow(measurement: "memory per record, status from \(ScalingChart.sizeLabel(first.records)) to "
                                     + "\(ScalingChart.sizeLabel(last.records)) entries",
                                 value: .rate(perRecord, unit: "B/record"), target: last.records >= 1_000_000 ? .valueAtMost(100) : nil))
        }

        let jsonPath = root + "/sfm_forwarded.json"
        let fileBytes = try Self.writeVersionOneState(recordCount: versionOneRecords, seed: seed &+ 20, to: jsonPath)
        let statePath = root + "/imported-state"
        let probe = try median("import \(BenchFormat.grouped(versionOneRecords))-entry version-1 state") {
            BenchWorkloads.removeState(at: statePath)
            try FileManager.default.copyItem(atPath: jsonPath, toPath: statePath)
            return try run(simulator: simulator, forwarder: forwarder,
                           arguments: ["seed-state", "--watch", emptyFolder, "--state", statePath])
        }
        BenchWorkloads.removeState(at: statePath)
        try? FileManager.default.removeItem(atPath: jsonPath)
        let label = ScalingChart.sizeLabel(versionOneRecords)
        rows.append(BenchRow(measurement: "import \(label)-entry version-1 JSON (whole process)", value: .duration(probe.elapsed),
                             eventCount: versionOneRecords, target: versionOneRecords == 1_000_000 ? .valueAtMost(10) : nil))
        rows.append(BenchRow(measurement: "peak RSS: import \(label)-entry version-1 JSON", value: .byteCount(probe.peakBytes),
                             reference: "its file size", referenceValue: .byteCount(fileBytes),
                             target: versionOneRecords == 1_000_000 ? .ratioAtMost(2) : nil))
        return rows
    }

    private func median(_ label: String, _ body: () throws -> Probe) throws -> Probe {
        var probes: [Probe] = []
        for _ in 0..<repeatCount { probes.append(try body()) }
        let peak = probes.map(\.peakBytes).sorted()[probes.count / 2]
        let elapsed = BenchStatistics.median(probes.map(\.elapsed)) ?? .zero
        FileHandle.standardError.write(Data(("\(label): " + probes.map { "\(BenchFormat.duration($0.elapsed)) \($0.peakBytes >> 20) MiB" }
            .joined(separator: ", ") + " → median \(BenchFormat.duration(elapsed)), \(peak >> 20) MiB\n").utf8))
        return Probe(peakBytes: peak, elapsed: elapsed)
    }

    /// Runs `event-forwarder arguments` through `bench peak-rss` and reads its peak and time.
    private func run(simulator: String, forwarder: String, arguments: [String]) throws -> Probe {
        let resultPath = root + "/state-scale-probe.txt"
        try ChildProcess.shellChecked("simulator=\"$1\"; result=\"$2\"; shift 2; "
                                          + "exec \"$simulator\" bench peak-rss --result \"$result\" -- \"$@\" > /dev/null",
                                      arguments: [simulator, resultPath, forwarder] + arguments)
        let text = try String(contentsOfFile: resultPath, encoding: .utf8)
        guard let kilobytes = MachineToolOutput.peakResidentKilobytes(fromProbeResult: text),
              let seconds = Self.field("elapsed_seconds", in: text).flatMap(Double.init) else {
            throw ChildProcessError(commandLine: "bench peak-rss", detail: "unreadable result \"\(text)\"")
        }
        return Probe(peakBytes: Int64(kilobytes) * 1024, elapsed: .nanoseconds(Int64(seconds * 1e9)))
    }

    private static func field(_ name: String, in text: String) -> String? {
        text.split(whereSeparator: \.isWhitespace).first { $0.hasPrefix(name + "=") }.map { String($0.dropFirst(name.count + 1)) }
    }

    /// Writes a Python forwarder's `sfm_forwarded.json` of `recordCount` seeded entries, as that
    /// forwarder writes them (microsecond times ending in `Z`, every 50th without its report);
    /// returns its size in bytes.
    static func writeVersionOneState(recordCount: Int, seed: UInt64, to path: String) throws -> Int64 {
        var random = SeededRandom(seed: seed)
        var text = #"{"version": 1, "forwarded": {"#
        text.reserveCapacity(recordCount * 190 + 64)
        let forwardedAt = FileTime(secondsSince1970: 1_790_000_000)
        for index in 0..<recordCount {
            let digest = (0..<4).map { _ -> String in
                let word = String(random.next(), radix: 16)
                return String(repeating: "0", count: 16 - word.count) + word
            }.joined()
            let time = FileTime(nanosecondsSince1970: (forwardedAt - .seconds(index)).nanosecondsSince1970
                + Int64(random.next() % 1_000_000) * 1000)
            let stamp = String(time.description.dropLast(5)) + String(format: ".%06lldZ", time.nanosecondsSince1970 % 1_000_000_000 / 1000)
            text += index == 0 ? "" : ", "
            text += #""\#(digest)": {"filename": "S913\#(String(index, radix: 36, uppercase: true)).AB0W", "size": \#(20_000 + index % 40_000), "#
            text += #""forwarded_at": "\#(stamp)", "had_report": \#(index % 50 == 0 ? "false" : "true")}"#
        }
        text += "}}\n"
        let data = Data(text.utf8)
        try data.write(to: URL(fileURLWithPath: path))
        return Int64(data.count)
    }
}
