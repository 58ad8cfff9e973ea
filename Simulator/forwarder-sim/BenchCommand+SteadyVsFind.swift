import ForwarderCore
import ForwarderIO
import ForwarderSimulation
import Foundation

/// `bench --steady-vs-find`: a steady pass in process against `find DIR -printf '%s %T@\n'`,
/// run alternately so both see the same load.
///
/// The forwarder is opened once with its state seeded, as a running `event-forwarder run` has
/// it, and one pass is run before timing, so each timed pass is what a service repeats every
/// pass interval: list, settle, plan, with nothing to send. `find` stats the same entries and
/// prints them, which is the floor a pass cannot beat.
struct SteadyVsFindBench {
    let eventCount: Int
    let repeatCount: Int
    let seed: UInt64
    let root: String
    /// A folder to time as it is, instead of one generated from the seed.
    let existingFolder: String?

    func run() async throws -> [BenchRow] {
        let folderPath: String
        if let existingFolder {
            folderPath = existingFolder
        } else {
            folderPath = root + "/ach-\(eventCount)"
            let folder = try BenchFolder.generate(into: folderPath, eventCount: eventCount, seed: seed)
            print("generated \(BenchFormat.grouped(folder.summary.eventCount)) events, "
                + "\(BenchFormat.grouped(folder.summary.reportCount)) reports in \(folderPath)")
        }
        let statePath = root + "/state-\(eventCount)"
        let seeded = try await BenchWorkloads.seedState(folder: folderPath, statePath: statePath).report
        print("seeded \(BenchFormat.grouped(seeded.seeded)) events")
        let (forwarder, store) = try BenchWorkloads.openForwarder(folder: folderPath, statePath: statePath)
        defer { try? store.close() }
        let warmUp = try await BenchWorkloads.timedPass(forwarder).report
        if warmUp.pending > 0 || warmUp.uploadsAttempted > 0 {
            FileHandle.standardError.write(Data("  steady pass: not steady: \(warmUp.summary)\n".utf8))
        }
        var finds: [Duration] = []
        var passes: [Duration] = []
        for run in 1...repeatCount {
            let find = try ChildProcess.shellChecked("find \"$1\" -printf '%s %T@\\n' > /dev/null", arguments: [folderPath]).elapsed
            let pass = try await BenchWorkloads.timedPass(forwarder).elapsed
            finds.append(find)
            passes.append(pass)
            FileHandle.standardError.write(Data(("  run \(run): find \(BenchFormat.duration(find)), steady pass \(BenchFormat.duration(pass)), "
                + "load \(ProcessForwardBench.loadAverage())\n").utf8))
        }
        let find = BenchStatistics.median(finds) ?? .zero
        let pass = BenchStatistics.median(passes) ?? .zero
        return [BenchRow(measurement: "steady pass in process, alternating with find", value: .duration(pass),
                         eventCount: eventCount, reference: "find -printf (whole process)", referenceValue: .duration(find),
                         target: .ratioAtMost(1.3))]
    }
}
