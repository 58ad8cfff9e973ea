import Benchmark
import BenchmarkGates
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
    Benchmark("record-\(recordCount)-records-sync-every-500",
              configuration: .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .syscalls],
                                   warmupIterations: 1, maxDuration: .seconds(10), maxIterations: 20,
                                   thresholds: BenchMallocGate.nearlyExact)) { benchmark in
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

    // Loading and lookups allocate nothing per record (issue #14): the same number of
    // allocations whatever the state's size, against one or more a record before.
    let mallocTolerance = BenchMallocGate.nearlyExact
    for (stateSize, label) in [(100_000, "100k"), (1_000_000, "1M")] {
        let loading = Fixture()
        Benchmark("load-\(label)-record-state",
                  configuration: .init(metrics: [.wallClock, .mallocCountTotal, .peakMemoryResident],
                                       warmupIterations: 1, maxDuration: .seconds(10), maxIterations: 10,
                                       thresholds: mallocTolerance)) { benchmark in
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

    final class LookupFixture {
        var scratch: BenchScratchFolder?
        var store: FileStateStore?
        var records: [ForwardRecord] = []
    }
    let lookups = LookupFixture()
    let lookupStateSize = 100_000
    Benchmark("look-up-100k-records-by-digest-and-name",
              configuration: .init(metrics: [.wallClock, .mallocCountTotal],
                                   warmupIterations: 1, maxDuration: .seconds(10), maxIterations: 20,
                                   thresholds: mallocTolerance)) { benchmark in
        guard let store = lookups.store else { return }
        benchmark.startMeasurement()
        var found = 0
        for record in lookups.records {
            if store.record(for: record.digest) != nil { found += 1 }
            if store.record(forName: record.fileName) != nil { found += 1 }
        }
        benchmark.stopMeasurement()
        precondition(found == 2 * lookups.records.count, "a stored record was not found")
    } setup: {
        let scratch = try BenchScratchFolder(label: "state-lookup")
        lookups.scratch = scratch
        print("state store: \(lookupStateSize) synthetic records to look up, seed \(seed)")
        try BenchWorkloads.writeSyntheticState(recordCount: lookupStateSize, seed: seed, to: scratch.file("state"))
        lookups.store = try FileStateStore(path: scratch.file("state"), readOnly: true)
        lookups.records = BenchWorkloads.syntheticRecords(count: lookupStateSize, seed: seed)
    } teardown: {
        lookups.store = nil
        lookups.scratch?.remove()
    }
}
