import ForwarderCore
@testable import ForwarderIO
import Foundation
import Synchronization
import Testing

@Suite("Forwarder metrics")
struct ForwarderMetricsTests {
    /// Event 0 accepted with its report, 1 accepted alone, 2 met a retryable failure, 3 a refusal.
    static let answers: @Sendable (ImportRequest) -> UploadOutcome = { request in
        switch request.binary.name {
        case eventName(2): return .failed(UploadProblem(kind: .httpStatus(503), detail: "busy"))
        case eventName(3): return .rejected(UploadProblem(kind: .fileError, detail: "unsupported"))
        default: return RecordingUploader.acceptAll(request)
        }
    }

    @Test("Metrics: counters, gauges and histograms say what the pass report says")
    func followTheReport() async throws {
        let world = try ForwarderWorld(answer: Self.answers)
        try world.event(0, ageSeconds: 1000)
        try world.event(1, ageSeconds: 999, report: false)
        try world.event(2, ageSeconds: 998)
        try world.event(3, ageSeconds: 997)
        try world.event(4, ageSeconds: 1, report: true)
        try world.write("Thumbs.db", Data([1]), ageSeconds: 1000)
        let store = try FileStateStore(path: world.statePath)
        let metrics = ForwarderMetrics(startedAt: world.clock.now(), version: "9.8.7")
        let forwarder = EventForwarder(folder: LocalEventFolder(path: world.folder.file("ach")), uploader: world.uploader,
                                       store: store, clock: world.clock, policy: world.policy,
                                       retryPolicy: RetryPolicy(quarantineAfterRejections: 1), metrics: metrics,
                                       logger: quietLogger)
        let report = try await forwarder.runPass()
        let text = String(decoding: metrics.exposition(), as: UTF8.self)
        let prefix = "blastware_forwarder_"
        #expect(metricValue(text, prefix + #"events_forwarded_total{report="yes"}"#) == 1)
        #expect(metricValue(text, prefix + #"events_forwarded_total{report="no"}"#) == 1)
        #expect(metricValue(text, prefix + #"upload_failures_total{class="retryable"}"#) == 1)
        #expect(metricValue(text, prefix + #"upload_failures_total{class="refused"}"#) == 1)
        #expect(metricValue(text, prefix + "uploaded_bytes_total") == Double(report.uploadedBytes))
        #expect(report.uploadedBytes > 6000)
        #expect(metricValue(text, prefix + "late_reports_resent_total") == 0)
        #expect(metricValue(text, prefix + "upload_duration_seconds_count") == 4)
        #expect(metricValue(text, prefix + "pass_duration_seconds_count") == 1)
        #expect(metricValue(text, prefix + "backlog_events") == Double(report.pending))
        #expect(report.pending == 4)
        for reason in SkipReason.allCases {
            #expect(metricValue(text, prefix + #"events_waiting{reason="\#(reason.rawValue)"}"#) == Double(report.skips[reason] ?? 0),
                    "\(reason)")
        }
        #expect(report.skips[.binaryNotQuiescent] == 1)
        #expect(report.skips[.notAnEvent] == 1)
        #expect(metricValue(text, prefix + "state_records") == 2)
        #expect(metricValue(text, prefix + "quarantined_events") == 1)
        #expect(metricValue(text, prefix + "circuit_open") == 0)
        #expect(metricValue(text, prefix + "last_accepted_upload_timestamp_seconds") == world.clock.now().secondsSince1970)
        #expect(metricValue(text, prefix + "last_pass_finished_timestamp_seconds") == report.finishedAt.secondsSince1970)
        #expect(metricValue(text, prefix + #"build_info{version="9.8.7"}"#) == 1)
        #expect(text.contains("# TYPE blastware_forwarder_upload_duration_seconds histogram"))
        #expect(text.contains("# TYPE blastware_forwarder_events_forwarded_total counter"))

        // The report arrives: the next pass re-sends event 1 with it, and the gauges follow the new pass.
        world.clock.advance(by: .seconds(10))
        try world.write(achReportName(eventName(1)), Data("\"Serial Number : BE12844\"\r\n".utf8), ageSeconds: 100)
        let second = try await forwarder.runPass()
        let after = String(decoding: metrics.exposition(), as: UTF8.self)
        #expect(second.lateReportsResent == 1)
        #expect(metricValue(after, prefix + "late_reports_resent_total") == 1)
        #expect(metricValue(after, prefix + #"events_forwarded_total{report="yes"}"#) == 3, "event 4, then event 1's re-send")
        #expect(metricValue(after, prefix + #"events_waiting{reason="binaryNotQuiescent"}"#) == 0)
        #expect(metricValue(after, prefix + "pass_duration_seconds_count") == 2)
        try store.close()
    }

    @Test("Metrics: the circuit gauge and /health's facts follow the breaker and the state")
    func circuitAndHealth() async throws {
        let world = try ForwarderWorld(answer: { _ in .failed(UploadProblem(kind: .transport, detail: "reset")) })
        for index in 0..<3 { try world.event(index, ageSeconds: 1000) }
        let store = try FileStateStore(path: world.statePath)
        let metrics = ForwarderMetrics(startedAt: world.clock.now())
        let forwarder = EventForwarder(folder: LocalEventFolder(path: world.folder.file("ach")), uploader: world.uploader,
                                       store: store, clock: world.clock, policy: world.policy,
                                       retryPolicy: RetryPolicy(circuitBreakerFailures: 2), metrics: metrics,
                                       logger: quietLogger)
        let interval = Duration.seconds(60)
        #expect(HealthRules.assess(metrics.healthSnapshot(now: world.clock.now(), passInterval: interval)).isHealthy)
        let report = try await forwarder.runPass()
        #expect(report.circuitOpened)
        let text = String(decoding: metrics.exposition(), as: UTF8.self)
        #expect(metricValue(text, "blastware_forwarder_circuit_open") == 1)
        #expect(metricValue(text, "blastware_forwarder_last_accepted_upload_timestamp_seconds") == 0)
        let health = HealthRules.assess(metrics.healthSnapshot(now: world.clock.now(), passInterval: interval))
        #expect(health.circuitOpen && !health.isHealthy)
        #expect(health.lastPassAgeSeconds == 0)

        metrics.recordStateWriteFailure()
        #expect(!metrics.healthSnapshot(now: world.clock.now(), passInterval: interval).stateWritable)
        try store.close()
    }
}
