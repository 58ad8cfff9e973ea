import Benchmark

/// How far each suite's malloc count may rise above the p90 recorded in `Thresholds/`.
///
/// Times on a shared VM vary by a third from run to run; allocation counts do not, so they are
/// what `swift package benchmark thresholds check` gates on (issue #14). The files in
/// `Thresholds/` hold only `mallocCountTotal`, so no time is ever compared; record them again
/// with `thresholds update` (then keep only that metric) when a change is meant to allocate more.
/// Benchmark names carry no spaces and no colons: package-benchmark 1.38.1 writes a threshold file with
/// underscores for spaces but looks it up by the name as it is, so a name with spaces is never gated;
/// and a file name with a colon cannot be checked out on Windows.
/// Computed, not stored: `BenchmarkThresholds` is not `Sendable`, so a stored static would not
/// compile under Swift 6's concurrency checks.
public enum BenchMallocGate {
    /// Work that allocates a fixed count whatever the timing: hashing buffers already in memory.
    public static var exact: [BenchmarkMetric: BenchmarkThresholds] { [
        .mallocCountTotal: .init(absolute: [.p90: 0]),
    ] }

    /// Work on files whose allocations depend only on the data, with a little slack for the
    /// runtime's own caches: passes over a folder, state loads and lookups, recording.
    public static var nearlyExact: [BenchmarkMetric: BenchmarkThresholds] { [
        .mallocCountTotal: .init(absolute: [.p90: 50]),
    ] }

    /// Uploads over loopback: how a reply is split into reads, and so how many buffers NIO
    /// allocates, changes from run to run.
    public static var networked: [BenchmarkMetric: BenchmarkThresholds] { [
        .mallocCountTotal: .init(relative: [.p90: 5.0]),
    ] }
}
