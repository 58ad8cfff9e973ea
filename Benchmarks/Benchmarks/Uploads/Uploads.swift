import Benchmark
import BenchmarkGates
import ForwarderCore
import ForwarderIO
import ForwarderSimulation
import MockSFMServer

/// Events per second forwarded to the mock SFM on loopback through `EventForwarder` and
/// `HTTPEventUploader`, with no upload cap: the backfill rate after a long outage.
let benchmarks: @Sendable () -> Void = {
    let eventCount = 2_000
    let seed: UInt64 = 20_261_129
    let eventsPerSecond = BenchmarkMetric.custom("events/s", polarity: .prefersLarger)
    final class Fixture {
        var scratch: BenchScratchFolder?
        var folder: BenchFolder?
    }
    let fixture = Fixture()

    Benchmark("forward-\(eventCount)-events-to-the-mock-SFM-on-loopback",
              configuration: .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal, eventsPerSecond],
                                   warmupIterations: 1, maxDuration: .seconds(20), maxIterations: 10,
                                   thresholds: BenchMallocGate.networked)) { benchmark in
        guard let folder = fixture.folder, let scratch = fixture.scratch else { return }
        let statePath = scratch.file("state-\(benchmark.currentIteration)")
        let server = try await MockSFMServer.start(configuration: MockSFM.Configuration(seed: seed, retainsReportText: false))
        let uploader = try HTTPEventUploader(baseURL: server.baseURL, serialHint: nil, requestTimeout: .seconds(60))
        let (forwarder, store) = try BenchWorkloads.openForwarder(folder: folder.path, statePath: statePath, uploader: uploader)
        benchmark.startMeasurement()
        let (report, elapsed) = try await BenchWorkloads.timedPass(forwarder)
        benchmark.stopMeasurement()
        benchmark.measurement(eventsPerSecond, Int(Double(report.forwarded) / elapsed.secondsValue))
        try store.close()
        await uploader.shutdown()
        try await server.shutdown()
        BenchWorkloads.removeState(at: statePath)
    } setup: {
        let scratch = try BenchScratchFolder(label: "uploads")
        fixture.scratch = scratch
        print("uploads: generating \(eventCount) events, seed \(seed)")
        fixture.folder = try BenchFolder.generate(into: scratch.file("ach"), eventCount: eventCount, seed: seed)
    } teardown: {
        fixture.scratch?.remove()
    }
}
