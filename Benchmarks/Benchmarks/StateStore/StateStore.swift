import Benchmark
import ForwarderCore
import ForwarderIO
import ForwarderSimulation

/// The durable state: recording throughput (append + periodic fsync) and load time of large
/// states, which bounds how fast the forwarder starts beside a big archive.
let benchmarks: @Sendable () -> Void = {
    let seed: UInt64 = 20_261_129
    let recordCount = 10_000
    final class Fixture {
        var scratch: BenchScratchFolder?
        var records: [ForwardRecord] = []
    }

    let recording = Fixture()
    Benchmark("StateStore: record \(recordCount) records, sync every 500",
              configuration: .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .syscalls],
                                   warmupIterations: 1, maxDuration: .seconds(10), maxIterations: 20)) { benchmark in
        guard let scratch = recording.scratch else { return }
        let statePath = scratch.file("state-\(benchmark.currentIteration)")
        let store = try FileStateStore(path: statePath)
        benchmark.startMeasurement()
        for (index, record) in recording.records.enumerated() {
            try store.record(record)
            if index % 500 == 499 { try store.sync() }
        }
        try store.sync()
        benchmark.stopMeasurement()
        try store.close()
        BenchWorkloads.removeState(at: statePath)
    } setup: {
        recording.scratch = try BenchScratchFolder(label: "state-record")
        print("state store: \(recordCount) synthetic records, seed \(seed)")
        recording.records = BenchWorkloads.syntheticRecords(count: recordCount, seed: seed)
    } teardown: {
        recording.scratch?.remove()
    }

    for stateSize in [100_000, 1_000_000] {
        let loading = Fixture()
        Benchmark("StateStore: load a \(stateSize)-record state",
                  configuration: .init(metrics: [.wallClock, .mallocCountTotal, .peakMemoryResident],
                                       warmupIterations: 1, maxDuration: .seconds(10), maxIterations: 10)) { benchmark in
            guard let scratch = loading.scratch else { return }
            benchmark.startMeasurement()
            blackHole(try BenchWorkloads.loadState(at: scratch.file("state")))
        } setup: {
            let scratch = try BenchScratchFolder(label: "state-load")
            loading.scratch = scratch
            print("state store: writing \(stateSize) synthetic records, seed \(seed)")
            try BenchWorkloads.writeSyntheticState(recordCount: stateSize, seed: seed, to: scratch.file("state"))
        } teardown: {
            loading.scratch?.remove()
        }
    }
}
