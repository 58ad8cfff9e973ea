import ForwarderCore
import ForwarderIO
import ForwarderSimulation
import Foundation
import Logging
import MockSFMServer
import Synchronization

/// What a live run is made of: a backlog written at once, a tail written as time passes, the
/// server's faults and the forwarder's timing, scaled so that minutes of ACH traffic take seconds.
public struct LiveWorldOptions: Sendable {
    public var seed: UInt64
    /// Events already in the folder when the forwarder starts (history mode).
    public var backlogEvents: Int
    /// Run `seed-state` over the backlog first, as on a first deploy beside an archive: then
    /// only the live tail is uploaded, while every pass still scans the whole folder.
    public var seedBacklog: Bool
    public var backlogProfile: FolderProfile
    /// Events written while the forwarder runs (live mode), after the backlog.
    public var liveEvents: Int
    public var liveProfile: FolderProfile
    /// How many times faster than real time the live tail is written.
    public var speed: Double
    public var faultPlan: FaultPlan
    public var policy: ScanPolicy
    public var passInterval: Duration
    public var requestTimeout: Duration
    /// The run gives up after this much wall time.
    public var deadline: Duration
    /// Uploads in flight at once, as `SFM_UPLOAD_CONCURRENCY` sets in production.
    public var uploadConcurrency: Int
    /// Where the folder and the state go; a new temporary folder (removed afterwards) when nil.
    public var workFolder: String?
    /// Backoff scaled like the folder's time: production's 30 s base would be minutes of a
    /// world that runs ten times faster than real time.
    public var retryPolicy: RetryPolicy

    public init(seed: UInt64, backlogEvents: Int = 2000, seedBacklog: Bool = false, backlogProfile: FolderProfile = .mixed, liveEvents: Int = 100,
                liveProfile: FolderProfile = FolderProfile.preset(named: "stuck") ?? .mixed, speed: Double = 10,
                faultPlan: FaultPlan = .none,
                policy: ScanPolicy = ScanPolicy(quiescencePeriod: .milliseconds(1500), reportGracePeriod: .seconds(15),
                                                forwardsPerPassLimit: 5000),
                passInterval: Duration = .seconds(1), requestTimeout: Duration = .seconds(5),
                deadline: Duration = .seconds(600), uploadConcurrency: Int = 4, workFolder: String? = nil,
                retryPolicy: RetryPolicy = RetryPolicy(baseDelay: .seconds(1), maximumDelay: .seconds(8))) {
        self.retryPolicy = retryPolicy
        self.uploadConcurrency = uploadConcurrency
        self.seed = seed
        self.backlogEvents = backlogEvents
        self.seedBacklog = seedBacklog
        self.backlogProfile = backlogProfile
        self.liveEvents = liveEvents
        self.liveProfile = liveProfile
        self.speed = speed
        self.faultPlan = faultPlan
        self.policy = policy
        self.passInterval = passInterval
        self.requestTimeout = requestTimeout
        self.deadline = deadline
        self.workFolder = workFolder
    }
}

/// What a live run did, and the checkers' verdict.
public struct LiveWorldResult: Sendable {
    public var manifest: [ManifestEntry]
    public var files: Int
    public var seedReport: SeedReport?
    public var passes: [PassReport]
    public var uploads: [SimulatedUpload]
    public var mockStats: MockStats
    public var violations: [CheckerViolation]
    public var finished: Bool
    public var elapsed: Duration

    public var passed: Bool { finished && violations.isEmpty }
    public var forwarded: Int { passes.reduce(0) { $0 + $1.forwarded } }
    public var forwardedWithReport: Int { passes.reduce(0) { $0 + $1.forwardedWithReport } }
    public var lateReportsResent: Int { passes.reduce(0) { $0 + $1.lateReportsResent } }
    public var failedUploads: Int { passes.reduce(0) { $0 + $1.errors } }
}

/// Progress of a live run, reported after every pass.
public struct LiveWorldProgress: Sendable {
    public var phase: String
    public var pass: Int
    public var report: PassReport?
    public var accepted: Int
    public var expected: Int
    public var elapsed: Duration
}

/// The real forwarder (`LocalEventFolder`, `HTTPEventUploader`, `FileStateStore`, system clock)
/// on a real temporary folder written by the generator, against the mock SFM on 127.0.0.1.
public struct LiveWorld: Sendable {
    public let options: LiveWorldOptions

    public init(_ options: LiveWorldOptions) { self.options = options }

    public func run(logger: Logger = Logger(label: "live-world", factory: { _ in SwiftLogNoOpLogHandler() }),
                    progress: @Sendable (LiveWorldProgress) -> Void = { _ in }) async throws -> LiveWorldResult {
        let wallClock = ContinuousClock()
        let startedAt = wallClock.now
        let ownsFolder = options.workFolder == nil
        let root = options.workFolder ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("live-world-\(options.seed)-\(UUID().uuidString)").path
        let folderPath = (root as NSString).appendingPathComponent("autocall home")
        try FileManager.default.createDirectory(atPath: folderPath, withIntermediateDirectories: true)
        defer { if ownsFolder { try? FileManager.default.removeItem(atPath: root) } }
        func elapsed() -> Duration { wallClock.now - startedAt }

        let now = FileTime(Date())
        let writer = DirectoryFolderWriter(directoryPath: folderPath)
        var manifest: [ManifestEntry] = []
        var files = 0
        if options.backlogEvents > 0 {
            let options = FolderGenerationOptions(seed: self.options.seed, profile: self.options.backlogProfile,
                                                  eventCount: self.options.backlogEvents, startTime: now)
            let plan = FolderPlanner.plan(options, endingAt: now - .seconds(600))
            progress(LiveWorldProgress(phase: "writing backlog", pass: 0, report: nil, accepted: 0,
                                       expected: self.options.backlogEvents, elapsed: elapsed()))
            let written = try writer.writeHistory(plan)
            manifest += written.manifest
            let summary = written.summary
            files += summary.eventCount + summary.reportCount + summary.monitorLogCount + summary.noiseFileCount
        }
        var livePlan: FolderPlan?
        if options.liveEvents > 0 {
            let liveOptions = FolderGenerationOptions(seed: options.seed &+ 1, profile: options.liveProfile,
                                                      eventCount: options.liveEvents, startTime: now)
            let plan = FolderPlanner.plan(liveOptions)
            livePlan = plan
            manifest += plan.manifest()
        }

        let server = try await MockSFMServer.start(
            configuration: MockSFM.Configuration(seed: options.seed, retainsReportText: false), faultPlan: options.faultPlan)
        let store = try FileStateStore(path: (root as NSString).appendingPathComponent("forward.state"))
        let uploader = LoggingUploader(try HTTPEventUploader(baseURL: server.baseURL, serialHint: nil,
                                                         requestTimeout: options.requestTimeout))
        let forwarder = EventForwarder(folder: LocalEventFolder(path: folderPath), uploader: uploader, store: store,
                                       clock: SystemClock(), policy: options.policy,
                                       uploadConcurrency: options.uploadConcurrency, retryPolicy: options.retryPolicy,
                                       retrySeed: options.seed, logger: logger)
        var seedReport: SeedReport?
        var seeded: Set<EventDigest> = []
        if options.seedBacklog {
            progress(LiveWorldProgress(phase: "seeding state", pass: 0, report: nil, accepted: 0,
                                       expected: options.backlogEvents, elapsed: elapsed()))
            seedReport = try await forwarder.seedState()
            seeded = Set(store.allRecords().map(\.digest))
        }
        let writerFinished = Mutex(false)
        let liveFiles = Mutex(0)
        let tailWriter = LiveTailWriter(directoryPath: folderPath, speed: options.speed)
        let writing = Task {
            defer { writerFinished.withLock { $0 = true } }
            if let livePlan {
                let created = try await tailWriter.write(LiveWriteSchedule(plan: livePlan))
                liveFiles.withLock { $0 = created }
            }
        }

        var passes: [PassReport] = []
        var finished = false
        var failure: (any Error)?
        do {
            while elapsed() < options.deadline {
                let report = try await forwarder.runPass()
                passes.append(report)
                let accepted = Set(uploader.uploads.filter(\.outcome.isAccepted).map(\.binaryDigest)).count
                progress(LiveWorldProgress(phase: "forwarding", pass: passes.count, report: report, accepted: accepted,
                                           expected: manifest.count, elapsed: elapsed()))
                if writerFinished.withLock({ $0 }), report.pending == 0, report.errors == 0, Self.nothingWaiting(report) {
                    finished = true
                    break
                }
                try await Task.sleep(for: options.passInterval)
            }
        } catch {
            failure = error
        }
        writing.cancel()
        if case .failure(let error) = await writing.result, !(error is CancellationError), failure == nil {
            failure = error
        }
        await uploader.inner.shutdown()
        let mockStats = server.mock.stats()
        var checker = SimulationChecker(policy: options.policy, manifest: manifest)
        checker.checkState(store.allRecords(), uploads: uploader.uploads, seeded: seeded)
        if finished {
            checker.checkFinal(manifest: manifest, mock: server.mock, uploads: uploader.uploads, seeded: seeded,
                               lostAcceptances: [], now: FileTime(Date()))
        }
        try? store.close()
        try await server.shutdown()
        files += liveFiles.withLock { $0 }
        if let failure { throw failure }
        return LiveWorldResult(manifest: manifest, files: files, seedReport: seedReport, passes: passes, uploads: uploader.uploads,
                               mockStats: mockStats, violations: checker.violations, finished: finished, elapsed: elapsed())
    }

    private static func nothingWaiting(_ report: PassReport) -> Bool {
        (report.skips[.awaitingReport] ?? 0) == 0 && (report.skips[.binaryNotQuiescent] ?? 0) == 0
            && (report.skips[.reportNotQuiescent] ?? 0) == 0 && (report.skips[.backingOff] ?? 0) == 0
    }
}

/// Wraps a real uploader and keeps what the checkers need of every upload.
final class LoggingUploader: EventUploader {
    let inner: HTTPEventUploader
    private let log = Mutex<[SimulatedUpload]>([])

    init(_ inner: HTTPEventUploader) { self.inner = inner }

    var uploads: [SimulatedUpload] { log.withLock { $0 } }

    func upload(_ request: ImportRequest) async -> UploadOutcome {
        let outcome = await inner.upload(request)
        let upload = SimulatedUpload(time: FileTime(Date()), binaryName: request.binary.name,
                                     binaryDigest: EventDigest(of: request.binary.contents),
                                     reportName: request.report?.name, outcome: outcome, stored: false)
        log.withLock { $0.append(upload) }
        return outcome
    }
}
