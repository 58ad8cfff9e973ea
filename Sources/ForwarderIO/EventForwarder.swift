import ForwarderCore
import Foundation
import Logging

/// Runs passes: lists the folder, lets the planner decide, reads, hashes, uploads and records.
///
/// The same type runs in production and in the simulation; only the seams differ. It keeps the
/// digest cache between passes, so a steady pass over a forwarded folder reads no contents.
public actor EventForwarder {
    public let folder: any EventFolder
    public let uploader: any EventUploader
    public let store: any ForwardStateStore
    public let clock: any ForwarderClock
    public let policy: ScanPolicy
    public let serialHint: String?
    /// When true, passes plan and hash but neither upload nor record.
    public let dryRun: Bool
    let logger: Logger
    var cache: DigestCache
    /// Since when, on the monotonic clock, each listed file not yet settled has been seen unchanged.
    private var observations = SettleObservations()
    private var stopRequested = false
    /// Records between two syncs inside one long pass; the pass also syncs at its end.
    private let recordsPerSync: Int
    /// The most uploads in flight at once, started oldest first, recorded as they complete.
    public let uploadConcurrency: Int
    public let retryPolicy: RetryPolicy
    /// Draws the backoff jitter; seeded, so one seed gives one schedule of retries.
    private var jitter: SplitMix64
    /// Uploads in a row, across passes, that failed; at the breaker's threshold the circuit is open.
    var consecutiveFailures = 0
    /// No upload starts before this time: the server answered 429 or 503 with a `Retry-After`.
    var uploadsPausedUntil: FileTime?
    /// A server pause up to this long is waited out inside the pass; a longer one ends the pass.
    /// Production and the fleet simulation pass their pass interval, so the pass goes on no later
    /// than the next one would; the default (zero) ends the pass at any pause, as the simulated
    /// scenarios were proven with (docs/DECISIONS.md).
    let longestPauseWithinPass: Duration
    /// Uploads in flight allowed now: learnt from the server's answers when adaptive, else
    /// `uploadConcurrency`. Not persisted: a restart starts again at one.
    var concurrencyLimit: ConcurrencyLimit
    /// Fed with each upload's outcome and each pass's report; nil when nothing serves metrics.
    public let metrics: ForwarderMetrics?
    /// The first state write of this pass that failed: no upload starts after it.
    var passStateFailure: StateFileError?

    /// - Parameters:
    ///   - uploadConcurrency: the most uploads in flight at once.
    ///   - adaptiveConcurrency: start at one upload in flight and learn the limit from the
    ///     server's answers, up to `uploadConcurrency`; with `false`, always `uploadConcurrency`.
    ///   - retrySeed: seeds the backoff jitter (production passes a random seed and logs it).
    public init(folder: any EventFolder, uploader: any EventUploader, store: any ForwardStateStore,
                clock: any ForwarderClock, policy: ScanPolicy, serialHint: String? = nil, dryRun: Bool = false,
                uploadConcurrency: Int = 1, adaptiveConcurrency: Bool = false, retryPolicy: RetryPolicy = RetryPolicy(),
                retrySeed: UInt64 = 0, recordsPerSync: Int = 500, longestPauseWithinPass: Duration = .zero,
                metrics: ForwarderMetrics? = nil, logger: Logger) {
        self.longestPauseWithinPass = longestPauseWithinPass
        self.metrics = metrics
        self.uploadConcurrency = max(1, uploadConcurrency)
        self.concurrencyLimit = ConcurrencyLimit(maximum: uploadConcurrency, isAdaptive: adaptiveConcurrency)
        self.retryPolicy = retryPolicy
        self.jitter = SplitMix64(seed: retrySeed)
        self.folder = folder
        self.uploader = uploader
        self.store = store
        self.clock = clock
        self.policy = policy
        self.serialHint = serialHint
        self.dryRun = dryRun
        self.recordsPerSync = recordsPerSync
        self.logger = logger
        self.cache = DigestCache(recorded: { [store] in store.record(forName: $0) })
        self.consecutiveFailures = store.consecutiveFailures
    }

    /// Asks a running pass to stop before its next upload; the upload in flight completes.
    public func requestStop() { stopRequested = true }

    /// Whether enough uploads in a row failed that passes only probe the server.
    public var circuitIsOpen: Bool { consecutiveFailures >= retryPolicy.circuitBreakerFailures }

    public var isStopRequested: Bool { stopRequested }

    /// One pass over the folder.
    ///
    /// Throws when the folder cannot be listed or the state cannot be written (after the uploads
    /// in flight finish); a single file that cannot be read or uploaded is counted and logged,
    /// and the pass goes on.
    public func runPass() async throws -> PassReport {
        let report = try await runPassReportingUnwritableState()
        if let passStateFailure { throw passStateFailure }
        return report
    }

    /// One pass that reports a state it could not write in `PassReport.stateUnwritable` rather
    /// than throwing: `run` and the simulation go on, and the next pass retries the write.
    ///
    /// A pass first writes what an earlier pass could not; while that fails, it starts no upload.
    /// When a write fails mid-pass, no further upload starts, the uploads in flight finish, and
    /// what they got accepted stays in the store's memory until a sync succeeds.
    public func runPassReportingUnwritableState() async throws -> PassReport {
        await waitOutPauseBeforePlanning()
        let now = clock.now()
        var report = PassReport(startedAt: now)
        passStateFailure = nil
        if store.writeFailure != nil {
            do { try store.sync() } catch { try keepStateFailure(error) }
        }
        let entries = try folder.listEntries()
        let monotonicNow = clock.monotonicNow()
        for file in observations.observe(entries, wallNow: now, monotonicNow: monotonicNow, policy: policy) {
            logger.warning("clock skew: file is dated \(Int(file.skew.secondsValue.rounded())) s ahead of this PC's clock; it is sent once it has stayed unchanged for the quiescence period",
                           metadata: ["event.name": "\(file.name)", "clock.skew_seconds": "\(file.skew.secondsValue)"])
        }
        let store = self.store
        let plan = ScanPlanner.plan(entries: entries, now: now, monotonicNow: monotonicNow, observations: observations,
                                    policy: policy, cache: cache,
                                    acceptedRecord: { store.record(for: $0) },
                                    deliveryAttempts: { store.attempts(forName: $0) })
        report.listedEntries = plan.listedEntryCount
        report.eventBinaries = plan.eventBinaryCount
        report.reports = plan.reportCount
        report.pending = plan.candidates.count
        for (reason, count) in plan.skips { report.skip(reason, count: count) }

        // With the circuit open the pass only probes the server; with nothing due, an event still
        // backing off is the probe, or a PC whose events all wait would not see the server return.
        let candidates = circuitIsOpen && plan.candidates.isEmpty ? plan.soonestBackingOff.map { [$0] } ?? [] : plan.candidates
        let uploader = self.uploader
        let planned = report
        let clock = self.clock
        report = try await withThrowingTaskGroup(of: FinishedUpload.self) { group in
            var report = planned
            var inFlight = 0
            var recordsSinceSync = 0
            var inFlightDigests: Set<EventDigest> = []
            /// A pass that starts with the circuit open sends one upload alone to probe the server.
            var probing = circuitIsOpen
            var nextIndex = 0
            /// Candidates the server refused with a pause it is waited out for: sent again in this
            /// pass once the pause is over, before the rest, rather than a pass interval later,
            /// as long as the server accepted something within the last `longestPauseWithinPass`
            /// (a server that only refuses ends the pass).
            var refusedForPause: [UploadCandidate] = []
            var lastAcceptedAt = now
            var remaining: Int { candidates.count - nextIndex + refusedForPause.count }
            /// Waits for one upload to finish and records it: state follows completion order.
            func finishOne() async throws {
                guard let finished = try await group.next() else { return }
                let (candidate, prepared, outcome) = (finished.candidate, finished.prepared, finished.outcome)
                inFlight -= 1
                inFlightDigests.remove(prepared.digest)
                adaptConcurrency(to: finished)
                if case .failed(let problem) = outcome {
                    // A pause the server asked for says it is up: the pause, not the breaker, holds uploads.
                    let now = clock.now()
                    if let resumeTime = ServerPause.resumeTime(after: problem, now: now) {
                        if resumeTime - now <= longestPauseWithinPass, now - lastAcceptedAt < longestPauseWithinPass {
                            refusedForPause.append(candidate)
                        }
                    } else {
                        consecutiveFailures += 1
                    }
                    pauseIfAsked(by: problem)
                } else {
                    if case .accepted = outcome { lastAcceptedAt = clock.now() }
                    if circuitIsOpen { try releaseBackoffsOnRecovery() }
                    consecutiveFailures = 0
                    probing = false
                }
                try recordCircuitBreaker()
                try handle(outcome, for: candidate, prepared: prepared, duration: finished.roundTrip, report: &report)
                recordsSinceSync += 1
                if recordsSinceSync >= recordsPerSync {
                    do { try store.sync() } catch { try keepStateFailure(error) }
                    recordsSinceSync = 0
                }
            }
            while true {
                if nextIndex == candidates.count, refusedForPause.isEmpty {
                    guard inFlight > 0 else { break }
                    try await finishOne()
                    continue
                }
                if stopRequested {
                    report.interrupted = true
                    break
                }
                if let limit = policy.forwardsPerPassLimit, report.uploadsAttempted >= limit {
                    report.skip(.passLimitReached, count: remaining)
                    break
                }
                // Finish first, then prepare: the state check then sees every earlier acceptance.
                while inFlight >= (probing ? 1 : concurrencyLimit.current) { try await finishOne() }
                // Nothing is sent that cannot be recorded.
                if passStateFailure != nil {
                    report.skip(.stateUnwritable, count: remaining)
                    break
                }
                if let resumeTime = pausedUntil(now: clock.now()) {
                    guard resumeTime - clock.now() <= longestPauseWithinPass, await waitOutPause(until: resumeTime) else {
                        report.skip(.serverAskedToWait, count: remaining)
                        break
                    }
                }
                // With the circuit open, only a probe (the pass's first upload) may start.
                if circuitIsOpen, !(probing && report.uploadsAttempted == 0) {
                    report.circuitOpened = true
                    report.skip(.serverUnavailable, count: remaining)
                    logger.error("server looks down: \(consecutiveFailures) uploads in a row failed; the next pass probes it with one upload")
                    break
                }
                let candidate: UploadCandidate
                if refusedForPause.isEmpty {
                    candidate = candidates[nextIndex]
                    nextIndex += 1
                } else {
                    candidate = refusedForPause.removeFirst()
                }
                guard let prepared = try prepare(candidate, report: &report) else { continue }
                if inFlightDigests.contains(prepared.digest) {
                    report.skip(.sameContentInFlight)
                    continue
                }
                if dryRun {
                    logger.info("would upload", metadata: metadata(candidate, digest: prepared.digest))
                    continue
                }
                report.uploadsAttempted += 1
                inFlight += 1
                inFlightDigests.insert(prepared.digest)
                let ticket = concurrencyLimit.uploadStarted(inFlight: inFlight)
                group.addTask {
                    let (outcome, roundTrip) = await clock.measure { await uploader.upload(prepared.request) }
                    return FinishedUpload(candidate: candidate, prepared: prepared, outcome: outcome,
                                          roundTrip: roundTrip, ticket: ticket)
                }
            }
            while inFlight > 0 { try await finishOne() }
            report.serverAskedToWaitUntil = pausedUntil(now: clock.now())
            report.concurrencyLimit = concurrencyLimit.current
            return report
        }
        do { try store.sync() } catch { try keepStateFailure(error) }
        report.stateUnwritable = passStateFailure?.description
        cache.retainOnly(regularFilesOf: entries)
        report.finishedAt = clock.now()
        if let metrics {
            metrics.recordPass(report, circuitOpen: circuitIsOpen, stateRecords: store.count,
                               quarantinedEvents: store.allAttempts().lazy.filter(\.quarantined).count)
        }
        return report
    }

    /// Keeps a state write's failure for the pass instead of ending it, so the uploads in flight
    /// still finish and their outcomes are kept (in the store's memory) for a later sync; any
    /// other error is thrown on.
    func keepStateFailure(_ error: any Error) throws {
        guard let failure = error as? StateFileError, failure.kind == .unwritable else { throw error }
        if passStateFailure == nil { passStateFailure = failure }
    }

    /// Gives a record that lacks a fingerprint (imported from version 1) the one just hashed,
    /// so that after a restart the digest cache knows the file without reading it again.
    func rememberFingerprint(of binary: FolderEntry, in record: ForwardRecord) throws {
        guard record.fingerprint == nil, record.fileName == binary.name, record.byteCount == binary.byteCount else { return }
        var updated = record
        updated.fingerprint = binary.fingerprint
        do { try store.record(updated) } catch { try keepStateFailure(error) }
    }

    struct PreparedUpload {
        var digest: EventDigest
        var reason: UploadReason
        var request: ImportRequest
    }

    /// Reads and hashes a candidate and decides whether it still needs uploading.
    ///
    /// A file that cannot be read is counted and skipped; only a state that cannot be written
    /// throws, because going on would forget what was accepted.
    private func prepare(_ candidate: UploadCandidate, report: inout PassReport) throws -> PreparedUpload? {
        let binary = candidate.binary
        let bytes: Data
        do { bytes = try folder.readContents(of: binary.name) } catch {
            report.skip(SkipReason(readFailure: error))
            logger.warning("cannot read event binary", metadata: ["event.name": "\(binary.name)", "error": "\(error)"])
            return nil
        }
        guard Int64(bytes.count) == binary.byteCount else {
            report.skip(.changedWhileReading)
            return nil
        }
        // Hash the bytes read even when the cache knows the file: a file replaced after listing by
        // other bytes of the same size must not be recorded under the old content's digest.
        let digest = EventDigest(of: bytes)
        guard candidate.cachedDigest == nil || candidate.cachedDigest == digest else {
            report.skip(.changedWhileReading)
            return nil
        }
        cache.remember(digest, for: binary)
        let accepted = store.record(for: digest)
        switch ScanPlanner.decide(candidate, digest: digest, acceptedRecord: accepted) {
        case .skip(let reason):
            report.skip(reason)
            if let accepted { try rememberFingerprint(of: binary, in: accepted) }
            return nil
        case .upload(let reason):
            var reportFile: ImportRequest.File?
            if let reportEntry = candidate.report {
                do {
                    let reportBytes = try folder.readContents(of: reportEntry.name)
                    guard Int64(reportBytes.count) == reportEntry.byteCount else {
                        report.skip(.changedWhileReading)
                        return nil
                    }
                    reportFile = ImportRequest.File(name: reportEntry.name, contents: reportBytes)
                } catch {
                    report.skip(SkipReason(readFailure: error))
                    logger.warning("cannot read report", metadata: ["event.report": "\(reportEntry.name)", "error": "\(error)"])
                    return nil
                }
            }
            let request = ImportRequest(binary: ImportRequest.File(name: binary.name, contents: bytes),
                                        report: reportFile, serialHint: serialHint)
            return PreparedUpload(digest: digest, reason: reason, request: request)
        }
    }

    /// Counts and logs an outcome: an acceptance is recorded, anything else backs the event off
    /// (or quarantines it) in the state, so a restart keeps its wait.
    private func handle(_ outcome: UploadOutcome, for candidate: UploadCandidate, prepared: PreparedUpload,
                        duration: Duration, report: inout PassReport) throws {
        var details = metadata(candidate, digest: prepared.digest)
        let problem: UploadProblem
        let rejected: Bool
        switch outcome {
        case .accepted(let row):
            let hadReport = prepared.request.report != nil
            let record = ForwardRecord(digest: prepared.digest, fileName: candidate.binary.name,
                                       byteCount: candidate.binary.byteCount, hadReport: hadReport,
                                       forwardedAt: clock.now(), fingerprint: candidate.binary.fingerprint)
            do { try store.record(record) } catch { try keepStateFailure(error) }
            let byteCount = Int64(prepared.request.binary.contents.count + (prepared.request.report?.contents.count ?? 0))
            report.forwarded += 1
            report.uploadedBytes += byteCount
            if hadReport { report.forwardedWithReport += 1 }
            if prepared.reason == .lateReport { report.lateReportsResent += 1 }
            metrics?.recordAccepted(withReport: hadReport, lateReport: prepared.reason == .lateReport, byteCount: byteCount,
                                    duration: duration, at: clock.now())
            details["server.inserted"] = "\(row.inserted ?? 0)"
            details["server.skipped"] = "\(row.skipped ?? 0)"
            logger.info(prepared.reason == .lateReport ? "re-sent with late report" : "forwarded", metadata: details)
            return
        case .rejected(let refusal):
            report.rejected += 1
            (problem, rejected) = (refusal, true)
        case .failed(let failure):
            report.failed += 1
            (problem, rejected) = (failure, false)
        }
        metrics?.recordFailure(refused: rejected, duration: duration)
        let now = clock.now()
        let attempts = RetryPlanner.afterFailure(store.attempts(forName: candidate.binary.name),
                                                 fileName: candidate.binary.name, digest: prepared.digest,
                                                 fingerprint: candidate.binary.fingerprint, problem: problem,
                                                 rejected: rejected, now: now, policy: retryPolicy, random: &jitter)
        do { try store.recordAttempts(attempts) } catch { try keepStateFailure(error) }
        details["error"] = "\(problem)"
        details["retry.failures"] = "\(attempts.failures)"
        details["retry.rejections"] = "\(attempts.rejections)"
        if attempts.quarantined {
            report.quarantined += 1
            logger.error("quarantined after \(attempts.rejections) refusals; release it with `event-forwarder retry \(candidate.binary.name)`",
                         metadata: details)
        } else {
            details["retry.in_seconds"] = "\(Int((attempts.nextAttemptAt - now).secondsValue.rounded()))"
            if rejected {
                logger.error("rejected by server; will retry after backoff", metadata: details)
            } else {
                logger.warning("upload failed; will retry after backoff", metadata: details)
            }
        }
    }

    private func metadata(_ candidate: UploadCandidate, digest: EventDigest) -> Logger.Metadata {
        ["event.name": "\(candidate.binary.name)",
         "event.report": "\(candidate.report?.name ?? "none")",
         "event.digest": "\(digest.hex.prefix(16))",
         "event.bytes": "\(candidate.binary.byteCount)"]
    }
}
