import AsyncHTTPClient
import ForwarderCore
import ForwarderIO
import ForwarderSimulation
import Foundation
import Logging
import MockSFMServer
import NIOCore
import Testing

/// What the mock's journal says the forwarder should have counted, judged from the mock's side:
/// its own rows and the faults it injected, never the forwarder's classifier.
struct JournalTally: Equatable {
    var accepted = 0
    var acceptedWithReport = 0
    var acceptedBytes = 0
    var retryable = 0
    var refused = 0
    var requests = 0

    init(_ journal: [JournalEntry]) {
        for entry in journal {
            requests += 1
            if let fault = entry.fault {
                switch fault.kind {
                case "connectionReset", "httpStatus": retryable += 1
                case "fileErrorRow": refused += 1
                default: break
                }
                continue
            }
            guard let binary = entry.files.first(where: { $0.role == "binary" }),
                  entry.rows.contains(where: { $0.filename == binary.name && $0.status == "ok" }) else {
                refused += 1
                continue
            }
            accepted += 1
            if entry.files.contains(where: { $0.role == "report" }) { acceptedWithReport += 1 }
            acceptedBytes += entry.files.reduce(0) { $0 + $1.byteCount }
        }
    }
}

/// What one scrape of `/metrics` says, in the same terms.
struct ScrapedCounts {
    var accepted: Int
    var acceptedWithReport: Int
    var acceptedBytes: Int
    var retryable: Int
    var refused: Int
    var uploadsTimed: Int
    var backlog: Int
    var stateRecords: Int
    var text: String

    init(_ text: String) {
        func value(_ series: String) -> Int {
            for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
                return Int(Double(line.dropFirst(series.count + 1)) ?? -1)
            }
            return -1
        }
        let prefix = "blastware_forwarder_"
        acceptedWithReport = value(prefix + #"events_forwarded_total{report="yes"}"#)
        accepted = acceptedWithReport + value(prefix + #"events_forwarded_total{report="no"}"#)
        acceptedBytes = value(prefix + "uploaded_bytes_total")
        retryable = value(prefix + #"upload_failures_total{class="retryable"}"#)
        refused = value(prefix + #"upload_failures_total{class="refused"}"#)
        uploadsTimed = value(prefix + "upload_duration_seconds_count")
        backlog = value(prefix + "backlog_events")
        stateRecords = value(prefix + "state_records")
        self.text = text
    }
}

@Suite("Live metrics", .serialized)
struct LiveMetricsTests {
    @Test("Live: /metrics agrees with the mock's journal during and after a run through 503s, resets and refusals")
    func countersAgreeWithJournal() async throws {
        let seed: UInt64 = 20_261_130
        print("live metrics: seed \(seed)")
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("live-metrics-\(UUID().uuidString)").path
        let folderPath = (root as NSString).appendingPathComponent("autocall home")
        try FileManager.default.createDirectory(atPath: folderPath, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let now = FileTime(Date())
        var profile = FolderProfile.mixed
        profile.waveformMedianByteCount = 2000
        profile.waveformPercentile95ByteCount = 4000
        profile.sampleTableShare = 0
        let plan = FolderPlanner.plan(FolderGenerationOptions(seed: seed, profile: profile, eventCount: 240, startTime: now),
                                      endingAt: now - .seconds(600))
        let manifest = try DirectoryFolderWriter(directoryPath: folderPath).writeHistory(plan).manifest
        let distinctEvents = Set(manifest.map(\.sha256)).count

        let faults = FaultPlan(seed: seed, rules: [
            FaultRule(name: "busy", fault: .httpStatus(code: 503, retryAfterSeconds: nil), probability: 0.15),
            FaultRule(name: "reset", fault: .connectionReset, probability: 0.1),
            FaultRule(name: "refused", fault: .fileErrorRow(detail: "cannot decode"), probability: 0.05),
        ])
        let server = try await MockSFMServer.start(configuration: MockSFM.Configuration(seed: seed, retainsReportText: false),
                                                   faultPlan: faults)
        let statePath = (root as NSString).appendingPathComponent("forward.state")
        let settings = ForwarderSettings(
            watchFolder: folderPath, forwardingEnabled: true, serverURL: server.baseURL, passInterval: .milliseconds(300),
            policy: ScanPolicy(quiescencePeriod: .seconds(1), reportGracePeriod: .seconds(5), forwardsPerPassLimit: 40),
            requestTimeout: .seconds(300), statePath: statePath, serialHint: nil, logFormat: .text, uploadConcurrency: 4,
            retryPolicy: RetryPolicy(baseDelay: .milliseconds(300), maximumDelay: .seconds(2),
                                     quarantineAfterRejections: 1000, circuitBreakerFailures: 1000),
            metricsAddress: MetricsAddress(host: "127.0.0.1", port: 0))
        let stop = StopSignal()
        let (addresses, addressContinuation) = AsyncStream<MetricsAddress>.makeStream()
        let service = ForwarderService(settings: settings, logger: Logger(label: "live-metrics", factory: { _ in SwiftLogNoOpLogHandler() }))
        let running = Task {
            try await service.run(dryRun: false, stop: stop, onMetricsListening: { addressContinuation.yield($0) })
        }
        defer { stop.request() }
        var iterator = addresses.makeAsyncIterator()
        let address = try #require(await iterator.next())
        let metricsURL = "http://127.0.0.1:\(address.port)/metrics"
        func scrape() async throws -> ScrapedCounts {
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: metricsURL), timeout: .seconds(300))
            #expect(response.status == .ok)
            return ScrapedCounts(String(buffer: try await response.body.collect(upTo: 4 << 20)))
        }
        let deadline = ContinuousClock.now + .seconds(1800)  // a guard against a hang, not a speed bound

        // During: the forwarder counts an upload after the mock journals it, so a scrape lies between
        // the journal just before it (less the uploads in flight) and the journal just after it.
        var scrapedDuring = false
        while !scrapedDuring, ContinuousClock.now < deadline {
            let before = JournalTally(server.mock.journal())
            let during = try await scrape()
            let after = JournalTally(server.mock.journal())
            // A finished pass has set the backlog gauge, and events are still waiting.
            if during.accepted > 0, during.backlog > 0, after.accepted < distinctEvents {
                scrapedDuring = true
                let inFlight = settings.uploadConcurrency
                #expect(during.accepted <= after.accepted && during.accepted >= before.accepted - inFlight)
                #expect(during.retryable <= after.retryable && during.retryable >= before.retryable - inFlight)
                #expect(during.refused <= after.refused && during.refused >= before.refused - inFlight)
                #expect(during.uploadsTimed <= after.requests && during.uploadsTimed >= before.requests - inFlight)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(scrapedDuring, "a scrape landed while the backlog was being sent")

        // After: once a pass finds nothing left, the counters equal the journal exactly.
        var final: ScrapedCounts?
        while ContinuousClock.now < deadline {
            if let data = try? Data(contentsOf: URL(fileURLWithPath: statePath + ".last-pass.json")),
               let report = try? JSONDecoder().decode(PassReport.self, from: data),
               report.pending == 0, report.errors == 0, (report.skips[.backingOff] ?? 0) == 0,
               server.mock.eventCount == distinctEvents {
                final = try await scrape()
                break
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        let scraped = try #require(final, "the backlog drained before the deadline")
        let journal = JournalTally(server.mock.journal())
        print("live metrics: journal \(journal)")
        #expect(journal.accepted >= distinctEvents)
        #expect(journal.retryable > 0 && journal.refused > 0, "the fault plan fired: \(journal)")
        #expect(scraped.accepted == journal.accepted)
        #expect(scraped.acceptedWithReport == journal.acceptedWithReport)
        #expect(scraped.acceptedBytes == journal.acceptedBytes)
        #expect(scraped.retryable == journal.retryable)
        #expect(scraped.refused == journal.refused)
        #expect(scraped.uploadsTimed == journal.requests)
        #expect(scraped.backlog == 0)
        #expect(scraped.stateRecords == distinctEvents)

        stop.request()
        try await running.value
        try await server.shutdown()
    }
}
