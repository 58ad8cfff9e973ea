import ForwarderCore
import Foundation
import Logging
import ServiceLifecycle

/// The forwarder as its command line uses it: settings in, real folder, server and state out.
///
/// The executable only parses arguments and calls one of these methods; tests call them too.
public struct ForwarderService: Sendable {
    public let settings: ForwarderSettings
    public let logger: Logger

    public init(settings: ForwarderSettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    /// Where the last pass's report is kept for `status`.
    public var lastPassPath: String { settings.statePath + ".last-pass.json" }

    /// Where `retry` leaves releases for a running forwarder.
    public var releaseRequests: ReleaseRequestBox { ReleaseRequestBox(statePath: settings.statePath) }

    /// One pass; returns its report (the caller decides the exit code).
    ///
    /// Throws `StateNotWrittenError` when the state could not be written: the pass started no
    /// upload after the write failed, and what the uploads in flight got accepted is sent again
    /// by the next run.
    public func runOnce(dryRun: Bool) async throws -> PassReport {
        try await withForwarder(dryRun: dryRun) { forwarder in
            do {
                try applyReleaseRequests(to: forwarder.store)
            } catch let error as StateFileError where error.kind == .unwritable {
                // The releases stay in their request files; the pass retries the write.
            }
            let report = try await forwarder.runPassReportingUnwritableState()
            logger.info("pass finished", metadata: ["pass.summary": "\(report.summary)"])
            if report.stateUnwritable != nil {
                try? saveLastPass(report)
                throw StateNotWrittenError(cause: await forwarder.passStateFailure ?? forwarder.store.writeFailure)
            }
            try saveLastPass(report)
            return report
        }
    }

    /// Passes every interval until `stop` is set or a shutdown signal arrives, with the metrics
    /// server beside them when `metricsAddress` is set; the pass in progress finishes the uploads
    /// in flight and syncs the state, then the server stops.
    ///
    /// Both run in one swift-service-lifecycle `ServiceGroup`: a server that cannot bind its
    /// address ends the run (`MetricsServerError`) before the first pass.
    /// - Parameters:
    ///   - stopsOnTerminationSignals: SIGINT and SIGTERM stop the run gracefully (the executable).
    ///   - onMetricsListening: called with the address actually bound (its port differs when 0 was asked for).
    public func run(dryRun: Bool, stop: StopSignal = StopSignal(), stopsOnTerminationSignals: Bool = false,
                    onMetricsListening: @escaping @Sendable (MetricsAddress) -> Void = { _ in }) async throws {
        let clock = SystemClock()
        let metrics = settings.metricsAddress.map { _ in ForwarderMetrics(startedAt: clock.now()) }
        try await withForwarder(dryRun: dryRun, metrics: metrics) { forwarder in
            var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
            var serverListening: AsyncStream<Int>?
            if let address = settings.metricsAddress, let metrics {
                metrics.recordState(records: forwarder.store.count,
                                    quarantined: forwarder.store.allAttempts().lazy.filter(\.quarantined).count)
                let (ports, portContinuation) = AsyncStream<Int>.makeStream()
                serverListening = ports
                let server = MetricsServer(address: address, metrics: metrics, passInterval: settings.passInterval,
                                           clock: clock, logger: logger,
                                           onListening: { port in
                                               onMetricsListening(MetricsAddress(host: address.host, port: port))
                                               portContinuation.yield(port)
                                           },
                                           onStopped: { portContinuation.finish() })
                services.append(.init(service: server, serviceName: "metrics server"))
            }
            let loop = PassLoopService(stop: stop, serverListening: serverListening, logger: logger) {
                try await Self.runLoop(forwarder: forwarder, clock: clock, interval: settings.passInterval,
                                       stop: stop, logger: logger,
                                       beforePass: { try applyReleaseRequests(to: forwarder.store) },
                                       afterPass: { report in try saveLastPass(report) })
            }
            // Listed after the server: a graceful shutdown stops services in reverse order, so the
            // loop finishes its uploads and syncs before the server stops answering.
            services.append(.init(service: loop, successTerminationBehavior: .gracefullyShutdownGroup,
                                  serviceName: "pass loop"))
            let group = ServiceGroup(configuration: ServiceGroupConfiguration(
                services: services, gracefulShutdownSignals: stopsOnTerminationSignals ? [.sigterm, .sigint] : [],
                logger: logger.quietened()))
            try await group.run()
        }
    }

    /// Repeats passes on `clock` until `stop` is set.
    ///
    /// A pass that fails (folder gone, server unreachable) is logged and retried at the next
    /// interval. A state that cannot be written (full or read-only disk) holds every upload back
    /// until a pass writes it again; the log says so once when it starts, again only when the
    /// error changes, and once when it ends. Any other state error ends the loop.
    public static func runLoop(forwarder: EventForwarder, clock: any ForwarderClock, interval: Duration,
                               stop: StopSignal, logger: Logger, beforePass: @Sendable () throws -> Void = {},
                               afterPass: @Sendable (PassReport) throws -> Void) async throws {
        var unwritable = UnwritableStateLog(logger: logger)
        while !stop.isRequested {
            do {
                do {
                    try beforePass()
                } catch let error as StateFileError where error.kind == .unwritable {
                    // What waits stays in memory (and release requests in their files); the pass retries.
                }
                let report = try await withThrowingTaskGroup(of: PassReport?.self) { group in
                    group.addTask { try await forwarder.runPassReportingUnwritableState() }
                    group.addTask {
                        await stop.wait()
                        if stop.isRequested { await forwarder.requestStop() }
                        return nil
                    }
                    let first = try await group.next()!
                    let report: PassReport
                    if let first { report = first } else { report = try await group.next()!! }
                    group.cancelAll()
                    return report
                }
                logger.info("pass finished", metadata: ["pass.summary": "\(report.summary)"])
                unwritable.passFinished(report)
                do {
                    try afterPass(report)
                    unwritable.lastPassSaved()
                } catch let error as StateFileError where error.kind == .unwritable {
                    unwritable.lastPassNotSaved(error)
                }
            } catch let error as StateFileError {
                forwarder.metrics?.recordStateWriteFailure()
                throw error
            } catch {
                logger.error("pass failed; next pass in \(interval)", metadata: ["error": "\(error)"])
            }
            if stop.isRequested { break }
            await withTaskGroup(of: Void.self) { group in
                group.addTask { try? await clock.sleep(for: interval) }
                group.addTask { await stop.wait() }
                await group.next()
                group.cancelAll()
            }
        }
        logger.info("stopped")
    }

    /// Marks every in-window event binary as forwarded without uploading.
    public func seedState(progress: @escaping @Sendable (_ done: Int, _ total: Int) -> Void) async throws -> SeedReport {
        let store = try FileStateStore(path: settings.statePath)
        let forwarder = EventForwarder(folder: LocalEventFolder(path: settings.watchFolder),
                                       uploader: NoUploader(), store: store, clock: SystemClock(),
                                       policy: settings.policy, logger: logger)
        do {
            let report = try await forwarder.seedState(progress: progress)
            try store.close()
            return report
        } catch let error as StateFileError where error.kind == .unwritable {
            // The disk refused after the state opened (full, read-only): exit 3, not a bad state file.
            throw StateNotWrittenError(cause: error, consequence: "seeding stopped; run seed-state again once the disk allows "
                                           + "(it hashes only what the state lacks)")
        }
    }

    /// Releases quarantined or backing-off events so the next pass tries them.
    ///
    /// When no forwarder holds the state, the release is written to it at once; when one does,
    /// it is left as a request that the running forwarder applies before its next pass.
    public func release(_ selection: ReleaseSelection) throws -> ReleaseResult {
        let store: FileStateStore
        do {
            store = try FileStateStore(path: settings.statePath)
        } catch let error as StateFileError where error.kind == .lockedByAnotherProcess {
            let waiting = try FileStateStore(path: settings.statePath, readOnly: true).allAttempts()
            let preview = ReleaseRequestBox.select(selection, from: waiting)
            if !preview.released.isEmpty { _ = try releaseRequests.submit(selection) }
            return ReleaseResult(outcome: preview, appliedNow: false)
        }
        let outcome = try ReleaseRequestBox.release(selection, in: store)
        try store.close()
        return ReleaseResult(outcome: outcome, appliedNow: true)
    }

    /// Applies releases that `retry` left while this forwarder held the state.
    private func applyReleaseRequests(to store: any ForwardStateStore) throws {
        let outcome = try releaseRequests.applyPending(to: store)
        if !outcome.released.isEmpty {
            logger.notice("released by `event-forwarder retry`; tried at this pass",
                          metadata: ["events": "\(outcome.released.joined(separator: ", "))"])
        }
    }

    /// What the state holds, how the last pass went and how much is waiting, without locking
    /// the state, so it works beside a running forwarder.
    public func status() throws -> ForwarderStatus {
        let store = try FileStateStore(path: settings.statePath, readOnly: true)
        let attempts = store.allAttempts()
        var status = ForwarderStatus(statePath: settings.statePath, watchFolder: settings.watchFolder,
                                     forwardingEnabled: settings.forwardingEnabled,
                                     recordedEvents: store.count,
                                     recordedWithoutReport: store.withoutReportCount)
        let waiting = attempts.sorted { ($0.quarantined ? 0 : 1, $0.fileName) < ($1.quarantined ? 0 : 1, $1.fileName) }
            .map(WaitingEvent.init)
        status.quarantined = waiting.filter(\.quarantined)
        status.backingOff = waiting.filter { !$0.quarantined }
        if let data = try? Data(contentsOf: URL(fileURLWithPath: lastPassPath)) {
            status.lastPass = try? JSONDecoder().decode(PassReport.self, from: data)
        }
        do {
            let entries = try LocalEventFolder(path: settings.watchFolder).listEntries()
            // The digest cache looks the listed binaries up in the state by name: nothing copies
            // the state, which remembers every event ever forwarded.
            let cache = DigestCache(recorded: { [store] in store.record(forName: $0) })
            let plan = ScanPlanner.plan(entries: entries, now: SystemClock().now(), policy: settings.policy,
                                        cache: cache, acceptedRecord: { store.record(for: $0) },
                                        deliveryAttempts: { store.attempts(forName: $0) })
            status.backlog = plan.candidates.count
            status.waiting = plan.skips
        } catch {
            status.folderProblem = "\(error)"
        }
        return status
    }

    private func saveLastPass(_ report: PassReport) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFileWriter.write(try encoder.encode(report), to: lastPassPath)
    }

    private func withForwarder<Result: Sendable>(dryRun: Bool, metrics: ForwarderMetrics? = nil,
                                                 _ body: (EventForwarder) async throws -> Result) async throws -> Result {
        guard let serverURL = settings.serverURL else {
            throw ServiceError.noServerURL
        }
        let uploader = try HTTPEventUploader(baseURL: serverURL, serialHint: settings.serialHint,
                                             requestTimeout: settings.requestTimeout,
                                             maximumConnections: settings.uploadConcurrency,
                                             certificateAuthorityFile: settings.certificateAuthorityFile,
                                             bearerToken: settings.bearerToken)
        let store: FileStateStore
        do { store = try FileStateStore(path: settings.statePath) } catch {
            await uploader.shutdown()
            throw error
        }
        let summary = store.loadSummary
        logger.info("state loaded", metadata: [
            "state.path": "\(settings.statePath)", "state.records": "\(store.count)",
            "state.journal_records": "\(summary.journalRecords)", "state.torn_bytes": "\(summary.tornTailBytes)",
            "state.imported_v1": "\(summary.importedVersionOneRecords)"])
        let retrySeed = UInt64.random(in: .min ... .max)
        logger.info("retry jitter seeded", metadata: ["retry.seed": "\(retrySeed)",
                                                      "state.waiting": "\(store.allAttempts().count)"])
        let forwarder = EventForwarder(folder: LocalEventFolder(path: settings.watchFolder), uploader: uploader,
                                       store: store, clock: SystemClock(), policy: settings.policy,
                                       serialHint: settings.serialHint, dryRun: dryRun,
                                       uploadConcurrency: settings.uploadConcurrency,
                                       adaptiveConcurrency: settings.adaptiveConcurrency, retryPolicy: settings.retryPolicy,
                                       retrySeed: retrySeed,
                                       longestPauseWithinPass: settings.passInterval, metrics: metrics, logger: logger)
        do {
            let result = try await body(forwarder)
            await uploader.shutdown()
            do { try store.close() } catch let error as StateFileError where error.kind == .unwritable {
                throw StateNotWrittenError(cause: error)
            }
            return result
        } catch {
            await uploader.shutdown()
            try? store.close()
            throw error
        }
    }
}

/// The state could not be written, so the forwarder stopped uploading: `once` and a stopping
/// `run` exit with `exitCode`, naming the file and the OS error.
///
/// Distinct from a bad state file (exit 2): nothing is wrong with the file or the settings, the
/// disk refused (full, read-only, failing), and the same command works once it allows.
public struct StateNotWrittenError: Error, CustomStringConvertible {
    public static let exitCode: Int32 = 3
    public var cause: StateFileError?
    /// What stopped and what the next run does about it.
    public var consequence = "no further upload was started; what the server accepted since the last write is sent again by the next run"

    public var description: String {
        "the state could not be written: " + (cause.map { "\($0)" } ?? "the last write failed") + "; " + consequence
    }
}

/// Errors of the service itself (settings that leave nothing to do).
public enum ServiceError: Error, CustomStringConvertible {
    case noServerURL

    public var description: String {
        switch self {
        case .noServerURL: return "no server: set SFM_URL in the config or environment, or pass --url"
        }
    }
}

/// An uploader for commands that must never upload (seed-state).
struct NoUploader: EventUploader {
    func upload(_ request: ImportRequest) async -> UploadOutcome {
        .rejected(UploadProblem(kind: .transport, detail: "uploading is not part of this command"))
    }
}

/// What `event-forwarder status` reports.
public struct ForwarderStatus: Sendable, Codable {
    public var statePath: String
    public var watchFolder: String
    public var forwardingEnabled: Bool
    public var recordedEvents: Int
    public var recordedWithoutReport: Int
    public var lastPass: PassReport?
    /// Binaries ready to upload now.
    public var backlog: Int?
    /// Entries not ready, by reason (still being written, awaiting report, too old, noise…).
    public var waiting: [SkipReason: Int]?
    public var folderProblem: String?
    /// Events the server refused too often; `event-forwarder retry` releases them.
    public var quarantined: [WaitingEvent] = []
    /// Events whose last upload failed, waiting for their next attempt.
    public var backingOff: [WaitingEvent] = []
}

/// One event that is quarantined or backing off, as `status` shows it.
public struct WaitingEvent: Sendable, Codable, Hashable {
    public var fileName: String
    public var quarantined: Bool
    public var failures: Int
    public var rejections: Int
    public var lastAttemptAt: FileTime
    public var nextAttemptAt: FileTime
    public var lastError: String

    init(_ attempts: DeliveryAttempts) {
        fileName = attempts.fileName
        quarantined = attempts.quarantined
        failures = attempts.failures
        rejections = attempts.rejections
        lastAttemptAt = attempts.lastAttemptAt
        nextAttemptAt = attempts.nextAttemptAt
        lastError = attempts.lastError
    }
}

/// What `event-forwarder retry` did.
public struct ReleaseResult: Sendable {
    public var outcome: ReleaseOutcome
    /// True when the state was changed now; false when a running forwarder applies it at its next pass.
    public var appliedNow: Bool
}
