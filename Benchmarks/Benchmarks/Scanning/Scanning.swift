import Benchmark
import BenchmarkGates
import ForwarderCore
import ForwarderIO
import ForwarderSimulation

/// Listing and planning: a steady pass over a forwarded folder, a first pass over a folder
/// where most binaries lack reports, and the pure planner on its own.
///
/// Fixtures are generated in `setup` (seed printed) into a temporary folder that `teardown`
/// deletes; only the pass itself is measured. Times vary ±30 % on shared VMs: gate on malloc
/// counts and compare times as ratios (`forwarder-sim bench`).
let benchmarks: @Sendable () -> Void = {
    let eventCount = ScanningFixture.eventCount
    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .peakMemoryResident],
        warmupIterations: 1, maxDuration: .seconds(10), maxIterations: 20, thresholds: BenchMallocGate.nearlyExact)

    let steady = ScanningFixture()
    Benchmark("steady-pass-\(eventCount)-events-forwarded", configuration: configuration) { benchmark in
        guard let forwarder = steady.forwarder else { return }
        benchmark.startMeasurement()
        blackHole(try await forwarder.runPass())
    } setup: {
        let folder = try steady.generate(label: "steady-pass", reportsKeptEvery: nil)
        let statePath = steady.scratch!.file("state")
        _ = try await BenchWorkloads.seedState(folder: folder.path, statePath: statePath)
        let (forwarder, store) = try BenchWorkloads.openForwarder(folder: folder.path, statePath: statePath)
        steady.forwarder = forwarder
        steady.store = store
    } teardown: {
        try steady.tearDown()
    }

    let firstPass = ScanningFixture()
    Benchmark("first-pass-\(eventCount)-events-90-percent-without-report-dry-run",
              configuration: configuration) { benchmark in
        guard let folder = firstPass.folder, let scratch = firstPass.scratch else { return }
        let statePath = scratch.file("state-\(benchmark.currentIteration)")
        let (forwarder, store) = try BenchWorkloads.openForwarder(folder: folder.path, statePath: statePath, dryRun: true)
        benchmark.startMeasurement()
        blackHole(try await forwarder.runPass())
        benchmark.stopMeasurement()
        try store.close()
        BenchWorkloads.removeState(at: statePath)
    } setup: {
        _ = try firstPass.generate(label: "first-pass", reportsKeptEvery: 10)
    } teardown: {
        try firstPass.tearDown()
    }

    let planner = ScanningFixture()
    Benchmark("ScanPlanner.plan-over-a-\(eventCount)-event-listing", configuration: configuration) { benchmark in
        let entries = planner.entries
        benchmark.startMeasurement()
        blackHole(ScanPlanner.plan(entries: entries, now: FileTime(secondsSince1970: 4_000_000_000),
                                   policy: BenchWorkloads.policy, cache: DigestCache(), acceptedRecord: { _ in nil }))
    } setup: {
        let folder = try planner.generate(label: "planner", reportsKeptEvery: nil)
        planner.entries = try LocalEventFolder(path: folder.path).listEntries()
    } teardown: {
        try planner.tearDown()
    }
}

/// One benchmark's generated folder and the forwarder over it.
final class ScanningFixture {
    static let eventCount = 10_000
    static let seed: UInt64 = 20_261_129

    var scratch: BenchScratchFolder?
    var folder: BenchFolder?
    var forwarder: EventForwarder?
    var store: FileStateStore?
    var entries = FolderListing()

    func generate(label: String, reportsKeptEvery: Int?) throws -> BenchFolder {
        let scratch = try BenchScratchFolder(label: label)
        self.scratch = scratch
        print("\(label): generating \(Self.eventCount) events, seed \(Self.seed)")
        let folder = try BenchFolder.generate(into: scratch.file("ach"), eventCount: Self.eventCount, seed: Self.seed)
        if let reportsKeptEvery { try folder.removeReports(keepingEvery: reportsKeptEvery) }
        self.folder = folder
        return folder
    }

    func tearDown() throws {
        try store?.close()
        store = nil
        forwarder = nil
        scratch?.remove()
    }
}
