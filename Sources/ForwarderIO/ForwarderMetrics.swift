import CoreMetrics
import ForwarderCore
import Prometheus
import Synchronization

/// The forwarder's Prometheus metrics and the facts `/health` decides from.
///
/// `EventForwarder` feeds it where the pass report is made (each upload's outcome, each pass's
/// end), so the metrics cannot drift from the report. Every metric is made through swift-metrics
/// with an explicit factory over this instance's own registry, never a global bootstrap: two
/// forwarders in one process (tests) keep separate counts.
public final class ForwarderMetrics: Sendable {
    /// What `/metrics` prints.
    public let registry: PrometheusCollectorRegistry
    /// The prefix of every metric name.
    public static let namePrefix = "blastware_forwarder_"

    private let forwardedWithReport: CoreMetrics.Counter
    private let forwardedWithoutReport: CoreMetrics.Counter
    private let lateReportsResent: CoreMetrics.Counter
    private let uploadedBytes: CoreMetrics.Counter
    private let retryableFailures: CoreMetrics.Counter
    private let refusals: CoreMetrics.Counter
    private let uploadDuration: CoreMetrics.Timer
    private let passDuration: CoreMetrics.Timer
    private let backlog: CoreMetrics.Gauge
    private let waiting: [SkipReason: CoreMetrics.Gauge]
    private let quarantinedEvents: CoreMetrics.Gauge
    private let stateRecords: CoreMetrics.Gauge
    private let circuitOpen: CoreMetrics.Gauge
    private let stateWritable: CoreMetrics.Gauge
    private let lastAcceptedUpload: CoreMetrics.Gauge
    private let lastPassFinished: CoreMetrics.Gauge
    private let health: Mutex<HealthFacts>

    /// What `/health` needs beyond the metrics' numbers.
    private struct HealthFacts {
        var startedAt: FileTime
        var lastPassFinishedAt: FileTime?
        var circuitOpen = false
        var stateWritable = true
    }

    /// - Parameter startedAt: when the process started; before the first pass, health counts from it.
    public init(startedAt: FileTime, version: String = ForwarderBuildInfo.version) {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        let name = { (suffix: String) in Self.namePrefix + suffix }
        factory.durationHistogramBuckets = [
            name("upload_duration_seconds"): [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                                              .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
                                              .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60)],
            name("pass_duration_seconds"): [.milliseconds(10), .milliseconds(100), .seconds(1), .seconds(5), .seconds(10),
                                            .seconds(30), .seconds(60), .seconds(300), .seconds(900), .seconds(3600)],
        ]
        self.registry = registry
        forwardedWithReport = CoreMetrics.Counter(label: name("events_forwarded_total"), dimensions: [("report", "yes")],
                                                  factory: factory)
        forwardedWithoutReport = CoreMetrics.Counter(label: name("events_forwarded_total"), dimensions: [("report", "no")],
                                                     factory: factory)
        lateReportsResent = CoreMetrics.Counter(label: name("late_reports_resent_total"), factory: factory)
        uploadedBytes = CoreMetrics.Counter(label: name("uploaded_bytes_total"), factory: factory)
        retryableFailures = CoreMetrics.Counter(label: name("upload_failures_total"), dimensions: [("class", "retryable")],
                                                factory: factory)
        refusals = CoreMetrics.Counter(label: name("upload_failures_total"), dimensions: [("class", "refused")],
                                       factory: factory)
        uploadDuration = CoreMetrics.Timer(label: name("upload_duration_seconds"), factory: factory)
        passDuration = CoreMetrics.Timer(label: name("pass_duration_seconds"), factory: factory)
        backlog = CoreMetrics.Gauge(label: name("backlog_events"), factory: factory)
        waiting = Dictionary(uniqueKeysWithValues: SkipReason.allCases.map { reason in
            (reason, CoreMetrics.Gauge(label: name("events_waiting"), dimensions: [("reason", reason.rawValue)], factory: factory))
        })
        quarantinedEvents = CoreMetrics.Gauge(label: name("quarantined_events"), factory: factory)
        stateRecords = CoreMetrics.Gauge(label: name("state_records"), factory: factory)
        circuitOpen = CoreMetrics.Gauge(label: name("circuit_open"), factory: factory)
        stateWritable = CoreMetrics.Gauge(label: name("state_writable"), factory: factory)
        stateWritable.record(1)
        lastAcceptedUpload = CoreMetrics.Gauge(label: name("last_accepted_upload_timestamp_seconds"), factory: factory)
        lastPassFinished = CoreMetrics.Gauge(label: name("last_pass_finished_timestamp_seconds"), factory: factory)
        // The registry keeps the gauge; nothing changes it after start.
        CoreMetrics.Gauge(label: name("build_info"), dimensions: [("version", version)], factory: factory).record(1)
        health = Mutex(HealthFacts(startedAt: startedAt))
    }

    /// The Prometheus text exposition of every metric.
    public func exposition() -> [UInt8] {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }

    /// An upload the server accepted, as the pass report counts it.
    func recordAccepted(withReport: Bool, lateReport: Bool, byteCount: Int64, duration: Duration, at time: FileTime) {
        (withReport ? forwardedWithReport : forwardedWithoutReport).increment()
        if lateReport { lateReportsResent.increment() }
        uploadedBytes.increment(by: byteCount)
        uploadDuration.recordNanoseconds(duration.wholeNanoseconds)
        lastAcceptedUpload.record(time.secondsSince1970)
    }

    /// An upload that failed: `refused` by the server, or `retryable` (timeouts, resets, 5xx…).
    func recordFailure(refused: Bool, duration: Duration) {
        (refused ? refusals : retryableFailures).increment()
        uploadDuration.recordNanoseconds(duration.wholeNanoseconds)
    }

    /// A finished pass: its duration and what it found waiting, and the state and circuit after it.
    func recordPass(_ report: PassReport, circuitOpen isOpen: Bool, stateRecords records: Int, quarantinedEvents quarantined: Int) {
        passDuration.recordNanoseconds((report.finishedAt - report.startedAt).wholeNanoseconds)
        lastPassFinished.record(report.finishedAt.secondsSince1970)
        backlog.record(report.pending)
        for (reason, gauge) in waiting { gauge.record(report.skips[reason] ?? 0) }
        recordState(records: records, quarantined: quarantined)
        circuitOpen.record(isOpen ? 1 : 0)
        let writable = report.stateUnwritable == nil
        stateWritable.record(writable ? 1 : 0)
        health.withLock { facts in
            facts.lastPassFinishedAt = report.finishedAt
            facts.circuitOpen = isOpen
            facts.stateWritable = writable
        }
    }

    /// What the state holds (at start, and after each pass).
    func recordState(records: Int, quarantined: Int) {
        stateRecords.record(records)
        quarantinedEvents.record(quarantined)
    }

    /// A state write or sync failed; `/health` reports it until a pass syncs again.
    func recordStateWriteFailure() {
        stateWritable.record(0)
        health.withLock { $0.stateWritable = false }
    }

    /// The facts for `HealthRules`, at `now`.
    public func healthSnapshot(now: FileTime, passInterval: Duration) -> HealthSnapshot {
        health.withLock { facts in
            HealthSnapshot(now: now, startedAt: facts.startedAt, lastPassFinishedAt: facts.lastPassFinishedAt,
                           passInterval: passInterval, circuitOpen: facts.circuitOpen, stateWritable: facts.stateWritable)
        }
    }
}
