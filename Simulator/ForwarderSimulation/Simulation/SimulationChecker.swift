import ForwarderCore
import Foundation

/// A rule the forwarder broke, with enough detail to find it in a replay.
public struct CheckerViolation: Hashable, Sendable, CustomStringConvertible {
    public var rule: String
    public var pass: Int?
    public var detail: String

    public init(rule: String, pass: Int?, detail: String) {
        self.rule = rule
        self.pass = pass
        self.detail = detail
    }

    public var description: String {
        "[\(rule)]" + (pass.map { " pass \($0):" } ?? "") + " \(detail)"
    }
}

extension SimulationChecker {
    /// Indices of uploads that send content again although the forwarder saw it accepted and
    /// still held the record, and the upload adds no report.
    ///
    /// Re-sends after a failure the client saw (even if the server had stored the upload) and
    /// after a crash that lost the record are allowed; they are what at-least-once costs.
    public static func unexplainedResends(_ uploads: [SimulatedUpload], lostAcceptances: Set<Int>) -> [Int] {
        var acceptedWithReport: [EventDigest: Bool] = [:]
        var unexplained: [Int] = []
        for (index, upload) in uploads.enumerated() {
            if let hadReport = acceptedWithReport[upload.binaryDigest], hadReport || upload.reportName == nil {
                unexplained.append(index)
            }
            if upload.outcome.isAccepted, !lostAcceptances.contains(index) {
                acceptedWithReport[upload.binaryDigest] = (acceptedWithReport[upload.binaryDigest] ?? false)
                    || upload.reportName != nil
            }
        }
        return unexplained
    }
}

/// The forwarder's rules, checked from the outside after every pass and at the end of a run.
///
/// The checker sees what the forwarder saw (the listing at the pass's time), what it did (the
/// uploads, from the simulated uploader) and the truth (the generator's manifest, the mock's
/// store); it never looks inside the forwarder.
public struct SimulationChecker: Sendable {
    public let policy: ScanPolicy
    public let retryPolicy: RetryPolicy
    /// The generator's pairing: each binary it made (case as written) with the reports it wrote
    /// for it, the one that pairs first. The checker judges from this alone, never from the
    /// forwarder's naming rules, so a wrong rule in the forwarder cannot also fool its judge.
    public let reportsByBinary: [String: [String]]
    public private(set) var violations: [CheckerViolation] = []
    /// The last pause the server asked for with `Retry-After`, and how many uploads started
    /// before its end since it was asked for.
    private var serverPause: (until: FileTime, uploadsSince: Int)?
    /// Uploads in a row, across passes and restarts, that failed without the server asking
    /// for a pause; from the breaker's threshold on, a pass's first upload is a probe.
    private var failuresInRow = 0

    public init(policy: ScanPolicy, reportsByBinary: [String: [String]], retryPolicy: RetryPolicy = RetryPolicy()) {
        self.policy = policy
        self.reportsByBinary = reportsByBinary
        self.retryPolicy = retryPolicy
    }

    /// A checker for the events of a generator's manifest.
    public init(policy: ScanPolicy, manifest: [ManifestEntry], retryPolicy: RetryPolicy = RetryPolicy()) {
        self.init(policy: policy,
                  reportsByBinary: Dictionary(manifest.map { ($0.binary, $0.reportsWritten) }, uniquingKeysWith: { first, _ in first }),
                  retryPolicy: retryPolicy)
    }

    /// The forwarder restarted: it no longer remembers a pause the server asked for.
    public mutating func forwarderRestarted() {
        serverPause = nil
    }

    /// Checks the uploads of one pass against the listing the pass started from.
    ///
    /// With uploads in flight concurrently, the order in which they reach the server may differ
    /// from the order they were started in by less than `reorderWindow` places. `waiting` is
    /// what the state remembered of failed uploads when the pass started, by name. Whether a
    /// file was still being written is judged in true time: `trueNow` and `lastWrittenAt` (by
    /// name) default to the wall time and the listed modification times, which differ once the
    /// simulation steps the PC's wall clock.
    public mutating func checkPass(_ index: Int, now: FileTime, listing: [FolderEntry], uploads: [SimulatedUpload],
                                   reorderWindow: Int = 1, uploadConcurrency: Int = 1,
                                   waiting: [String: DeliveryAttempts] = [:], trueNow: FileTime? = nil,
                                   lastWrittenAt: (String) -> FileTime? = { _ in nil }) {
        func violate(_ rule: String, _ detail: String) {
            violations.append(CheckerViolation(rule: rule, pass: index, detail: detail))
        }
        /// How long ago, in true time, `entry` was last written.
        func quietTime(_ entry: FolderEntry) -> Duration {
            (trueNow ?? now) - (lastWrittenAt(entry.name) ?? entry.modificationTime)
        }
        let byName = Dictionary(listing.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        if let limit = policy.forwardsPerPassLimit, uploads.count > limit {
            violate("cap", "\(uploads.count) uploads, cap \(limit)")
        }
        var order: [(FileTime, String)] = []
        // A pass that starts with the circuit open probes the server with one upload, and may
        // take an event still backing off when none is due.
        let probing = failuresInRow >= retryPolicy.circuitBreakerFailures
        for (position, upload) in uploads.enumerated() {
            guard let pairedReports = reportsByBinary[upload.binaryName] else {
                violate("noise", "uploaded \(upload.binaryName), which is not a generated event")
                continue
            }
            guard let binary = byName[upload.binaryName] else {
                violate("listing", "uploaded \(upload.binaryName), which the pass did not list")
                continue
            }
            if quietTime(binary) < policy.quiescencePeriod {
                violate("quiescence", "\(binary.name) uploaded \(quietTime(binary).secondsValue) s after its last write")
            }
            let preferredReport = pairedReports.lazy.compactMap { byName[$0] }.first { $0.kind == .regularFile }
            if let report = preferredReport {
                let settled = quietTime(report) >= policy.quiescencePeriod
                if !settled {
                    violate("report-quiescence", "\(binary.name) uploaded while its report \(report.name) was being written")
                } else if upload.reportName != report.name {
                    violate("report-attached", "\(binary.name) uploaded with \(upload.reportName ?? "no report"), "
                        + "but \(report.name) was ready")
                }
            } else if upload.reportName == nil, quietTime(binary) < policy.reportGracePeriod {
                violate("grace", "\(binary.name) uploaded alone \(quietTime(binary).secondsValue) s after it settled")
            }
            if let attempts = waiting[binary.name], attempts.fingerprint == binary.fingerprint {
                if attempts.quarantined {
                    violate("quarantine", "\(binary.name) uploaded while quarantined")
                } else if now < attempts.nextAttemptAt, !(probing && position == 0) {
                    violate("backoff", "\(binary.name) uploaded \((attempts.nextAttemptAt - now).secondsValue) s "
                        + "before its backoff ended")
                }
            }
            order.append((binary.modificationTime, binary.name))
        }
        // The server's pause: after a 429 or 503 with Retry-After, only uploads already in flight
        // may still start before its end. The pause lives in the forwarder's memory, so a restart
        // forgets it (`forwarderRestarted()`).
        for upload in uploads {
            if let pause = serverPause, upload.time < pause.until {
                serverPause?.uploadsSince += 1
                if pause.uploadsSince + 1 > uploadConcurrency - 1 {
                    violate("pause", "\(upload.binaryName) uploaded \((pause.until - upload.time).secondsValue) s "
                        + "before the server's Retry-After ran out")
                }
            }
            if let until = upload.serverAskedToWaitUntil, until > serverPause?.until ?? upload.time {
                serverPause = (until, 0)
            }
        }
        // The circuit breaker: once enough uploads in a row failed, only those already in flight
        // may still fail in this pass.
        // A 429 or 503 with Retry-After shows the server up; its pause, checked above, holds uploads.
        var runInPass = 0
        var longestRun = 0
        for upload in uploads {
            switch upload.outcome {
            case .failed where upload.serverAskedToWaitUntil != nil: continue
            case .failed:
                runInPass += 1
                failuresInRow += 1
            case .accepted, .rejected:
                runInPass = 0
                failuresInRow = 0
            }
            longestRun = max(longestRun, runInPass)
        }
        if longestRun > retryPolicy.circuitBreakerFailures + uploadConcurrency - 1 {
            violate("circuit", "\(longestRun) uploads in a row failed; the breaker opens at "
                + "\(retryPolicy.circuitBreakerFailures)")
        }
        // Each upload must be no newer than every upload at least `reorderWindow` places later.
        var laterMinimum = order
        for position in stride(from: order.count - 2, through: 0, by: -1) where laterMinimum[position + 1] < order[position] {
            laterMinimum[position] = laterMinimum[position + 1]
        }
        for position in order.indices where position + reorderWindow < order.count {
            let later = laterMinimum[position + reorderWindow]
            if order[position] > later {
                violate("oldest-first", "\(order[position].1) uploaded before the older \(later.1)")
            }
        }
    }

    /// Checks that the state holds only what the server accepted.
    public mutating func checkState(_ records: [ForwardRecord], uploads: [SimulatedUpload], seeded: Set<EventDigest>) {
        let accepted = Set(uploads.filter(\.outcome.isAccepted).map(\.binaryDigest))
        for record in records where !accepted.contains(record.digest) && !seeded.contains(record.digest) {
            violations.append(CheckerViolation(rule: "recorded-unaccepted", pass: nil,
                                               detail: "\(record.fileName) is recorded but was never accepted"))
        }
    }

    /// After faults heal: every eligible event accepted, with its report when it has one, and
    /// no more duplicates than crashes and lost responses explain.
    /// Quarantined events wait for an operator: they are not counted as lost.
    public mutating func checkFinal(manifest: [ManifestEntry], mock: MockSFM, uploads: [SimulatedUpload],
                                    seeded: Set<EventDigest>, lostAcceptances: Set<Int>, now: FileTime,
                                    quarantined: Set<String> = []) {
        func violate(_ rule: String, _ detail: String) {
            violations.append(CheckerViolation(rule: rule, pass: nil, detail: detail))
        }
        let storedEvents = mock.events()
        let storedByName = Dictionary(storedEvents.map { ($0.binaryName, $0) }, uniquingKeysWith: { first, _ in first })
        // Identical bytes under a second name are uploaded once, under the first name.
        let storedByDigest = Dictionary(storedEvents.map { ($0.binaryDigest, $0) }, uniquingKeysWith: { first, _ in first })
        var missing = 0
        var withoutReport = 0
        for entry in manifest {
            guard let digest = entry.digest, !seeded.contains(digest) else { continue }
            // Events older than the age window are not the forwarder's to send.
            guard entry.binaryModificationTime >= now - policy.maximumEventAge else { continue }
            if quarantined.contains(entry.binary) { continue }
            guard let stored = storedByName[entry.binary] ?? storedByDigest[entry.sha256] else {
                missing += 1
                if missing <= 5 { violate("lost", "\(entry.binary) never reached the server") }
                continue
            }
            if entry.report != nil, stored.reportName == nil {
                withoutReport += 1
                if withoutReport <= 5 { violate("late-report", "\(entry.binary) is stored without its report \(entry.report!)") }
            }
        }
        if missing > 5 { violate("lost", "\(missing) events in all never reached the server") }
        if withoutReport > 5 { violate("late-report", "\(withoutReport) events in all are stored without their report") }
        let resent = Self.unexplainedResends(uploads, lostAcceptances: lostAcceptances)
        if let first = resent.first {
            violate("exactly-once", "\(resent.count) uploads re-sent content whose acceptance the forwarder had seen "
                + "and kept, e.g. \(uploads[first].binaryName) (upload \(first + 1))")
        }
        let uploadedSeeded = uploads.filter { seeded.contains($0.binaryDigest) }
        if let first = uploadedSeeded.first {
            violate("seeded-resent", "\(uploadedSeeded.count) seeded events uploaded, e.g. \(first.binaryName)")
        }
    }
}
