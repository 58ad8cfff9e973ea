import Benchmark
import BenchmarkGates
import Foundation
import ForwarderCore
import ForwarderSimulation

/// SHA-256 throughput of `EventDigest(of:)` over large buffers, the cost that dominates
/// seed-state and first passes; compare with `openssl speed -evp sha256` (`forwarder-sim bench`).
let benchmarks: @Sendable () -> Void = {
    let seed: UInt64 = 20_261_129
    let byteCount = 64 << 20
    final class Buffer { var bytes = Data() }
    let buffer = Buffer()

    Benchmark("EventDigest-of-64MiB",
              configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal],
                                   warmupIterations: 1, maxDuration: .seconds(5), maxIterations: 30,
                                   thresholds: BenchMallocGate.exact)) { benchmark in
        let bytes = buffer.bytes
        benchmark.startMeasurement()
        blackHole(EventDigest(of: bytes))
    } setup: {
        print("hashing: \(byteCount) pseudo-random bytes, seed \(seed)")
        buffer.bytes = BenchWorkloads.randomBytes(byteCount: byteCount, seed: seed)
    } teardown: {
        buffer.bytes = Data()
    }

    let eventSizedBuffers = (0..<1000).map { BenchWorkloads.randomBytes(byteCount: 32 << 10, seed: seed &+ UInt64($0)) }
    Benchmark("EventDigest-of-1000-event-sized-32KiB-buffers",
              configuration: .init(metrics: [.wallClock, .throughput, .mallocCountTotal],
                                   warmupIterations: 1, maxDuration: .seconds(5), maxIterations: 100,
                                   thresholds: BenchMallocGate.exact)) { benchmark in
        for bytes in eventSizedBuffers { blackHole(EventDigest(of: bytes)) }
    }
}
