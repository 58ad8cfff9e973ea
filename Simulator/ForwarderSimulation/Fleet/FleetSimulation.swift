import Crypto
import ForwarderCore
import ForwarderIO
import Foundation
import Logging
import Synchronization

/// What a fleet run is made of: how many PCs and events, the day they go through, the server's
/// capacity and the forwarders' settings. One seed decides everything else.
public struct FleetOptions: Sendable {
    public var seed: UInt64
    public var pcCount: Int
    /// About this many events a day on each PC.
    public var eventsPerPC: Int
    public var day: FleetDay
    public var capacity: FleetServerCapacity
    public var policy: ScanPolicy
    public var retryPolicy: RetryPolicy
    /// `SFM_UPLOAD_CONCURRENCY` of every forwarder.
    public var uploadConcurrency: Int
    public var passInterval: Duration
    public var requestTimeout: Duration
    /// After the day ends the fleet may take this long to send what is left; then the run stops.
    public var drainAllowance: Duration

    public init(seed: UInt64, pcCount: Int = 50, eventsPerPC: Int = 200, day: FleetDay = FleetDay(),
                capacity: FleetServerCapacity = FleetServerCapacity(), policy: ScanPolicy = ScanPolicy(),
                retryPolicy: RetryPolicy = RetryPolicy(), uploadConcurrency: Int = 4,
                passInterval: Duration = .seconds(60), requestTimeout: Duration = .seconds(60),
                drainAllowance: Duration = .seconds(6 * 3600)) {
        self.seed = seed
        self.pcCount = pcCount
        self.eventsPerPC = eventsPerPC
        self.day = day
        self.capacity = capacity
        self.policy = policy
        self.retryPolicy = retryPolicy
        self.uploadConcurrency = uploadConcurrency
        self.passInterval = passInterval
        self.requestTimeout = requestTimeout
        self.drainAllowance = drainAllowance
    }
}

/// What a simulated fleet did: the truth (each PC's manifest), what the server saw (its
/// journal and store), what the forwarders kept (their states), and the checkers' verdict.
public struct FleetResult: Sendable {
    public var options: FleetOptions
    public var pcs: [FleetPC]
    /// What the checkers judged: manifests, the server's journal and store, the states.
    public var evidence: FleetEvidence
    public var passCount: Int
    /// Whether every PC had nothing left to send before the drain allowance ran out.
    public var finished: Bool
    public var endedAt: FileTime
    public var timeline: FleetTimeline
    public var violations: [CheckerViolation]
    /// SHA-256 over every request the server saw, in order: one seed, one digest.
    public var runDigest: String

    /// The checkers' violations, plus one when the fleet did not finish.
    public var verdict: [CheckerViolation] {
        violations + (finished ? [] : [CheckerViolation(rule: "unfinished", pass: nil,
                                                        detail: "PCs still had work when the drain allowance ran out")])
    }
}

/// N real `EventForwarder`s, each on its own in-memory folder and state, against one server
/// with a capacity, all on one simulated clock (see `FleetScheduler`).
public struct FleetSimulation: Sendable {
    public let options: FleetOptions

    public init(_ options: FleetOptions) { self.options = options }

    public func run() async throws -> FleetResult {
        let options = self.options
        let day = options.day
        let pcs = FleetPC.plan(count: options.pcCount, eventsPerPC: options.eventsPerPC, seed: options.seed, day: day)
        let scheduler = FleetScheduler(start: day.start)
        let clock = FleetClock(scheduler: scheduler)
        let mock = MockSFM(configuration: MockSFM.Configuration(journalCapacity: 1, seed: options.seed,
                                                                retainsReportText: false))
        let server = SimulatedFleetServer(mock: mock, capacity: options.capacity, day: day,
                                          requestTimeout: options.requestTimeout, scheduler: scheduler)
        let stopAt = day.end + options.drainAllowance
        let outcomes = try await scheduler.run {
            try await withThrowingTaskGroup(of: (Int, PCOutcome).self) { group in
                for pc in pcs {
                    group.addTask {
                        (pc.index, try await Self.runPC(pc, options: options, uploader: server.uploader(forPC: pc.index),
                                                        clock: clock, stopAt: stopAt))
                    }
                }
                var outcomes: [PCOutcome?] = Array(repeating: nil, count: pcs.count)
                for try await (index, outcome) in group { outcomes[index] = outcome }
                return outcomes.map { $0! }
            }
        }
        let journal = server.journal
        var hash = SHA256()
        for request in journal {
            hash.update(data: Data("\(request.pc) \(request.arrivedAt.nanosecondsSince1970) \(request.binaryName) \(request.answer)\n".utf8))
        }
        let endedAt = max(day.end, scheduler.now)
        let evidence = FleetEvidence(
            pcs: pcs.map { FleetEvidence.PC(manifest: $0.manifest, hasBacklog: $0.hasBacklog) },
            journal: journal, storedEvents: mock.events(), recordedDigests: outcomes.map(\.recordedDigests),
            day: day, capacity: options.capacity, settleAllowance: options.passInterval * 2, endedAt: endedAt)
        return FleetResult(options: options, pcs: pcs, evidence: evidence, passCount: outcomes.reduce(0) { $0 + $1.passCount },
                           finished: outcomes.allSatisfy(\.finished), endedAt: endedAt,
                           timeline: FleetTimeline(manifests: pcs.map(\.manifest), journal: journal, start: day.start, until: endedAt),
                           violations: FleetChecker.check(evidence),
                           runDigest: hash.finalize().map { String(format: "%02x", $0) }.joined())
    }

    struct PCOutcome: Sendable {
        var passCount: Int
        var finished: Bool
        var recordedDigests: [EventDigest]
    }

    /// One PC's forwarder, pass after pass as `run` does (from a seeded moment within the first
    /// pass interval), until the day is over and its folder settled, or `stopAt`.
    static func runPC(_ pc: FleetPC, options: FleetOptions, uploader: any EventUploader, clock: FleetClock,
                      stopAt: FileTime) async throws -> PCOutcome {
        let folder = SimEventFolder(location: "sim://pc-\(pc.index)")
        folder.schedule(LiveWriteSchedule(plan: pc.plan))
        let store = SimStateStore()
        let forwarder = EventForwarder(
            folder: folder, uploader: uploader, store: store, clock: clock, policy: options.policy,
            uploadConcurrency: options.uploadConcurrency, adaptiveConcurrency: true, retryPolicy: options.retryPolicy,
            retrySeed: pc.seed, longestPauseWithinPass: options.passInterval,
            logger: Logger(label: "fleet", factory: { _ in SwiftLogNoOpLogHandler() }))
        var passCount = 0
        var finished = false
        // PCs are switched on at different moments, so their passes are not in step.
        var phase = SeededRandom(seed: pc.seed).derived("pass phase")
        try await clock.sleep(for: options.passInterval * phase.unitInterval())
        while clock.now() < stopAt {
            try folder.applyScheduledOperations(through: clock.now())
            let report = try await forwarder.runPass()
            passCount += 1
            let now = clock.now()
            let settled = isSettled(report)
            guard let nextWrite = folder.nextScheduledTime else {
                if settled, now >= options.day.end {
                    finished = true
                    break
                }
                try await clock.sleep(for: options.passInterval)
                continue
            }
            // Passes over a settled folder that nothing writes to are all alike: sleep through
            // them to the first pass after the next write.
            if settled, nextWrite > now + options.passInterval {
                let idlePasses = Int((nextWrite - now) / options.passInterval)
                try await clock.sleep(for: options.passInterval * (idlePasses + 1))
            } else {
                try await clock.sleep(for: options.passInterval)
            }
        }
        return PCOutcome(passCount: passCount, finished: finished, recordedDigests: store.allRecords().map(\.digest))
    }

    /// Nothing left to do: no candidate, no error, nothing waiting on time.
    static func isSettled(_ report: PassReport) -> Bool {
        report.pending == 0 && report.errors == 0
            && (report.skips[.backingOff] ?? 0) == 0
            && (report.skips[.awaitingReport] ?? 0) == 0
            && (report.skips[.binaryNotQuiescent] ?? 0) == 0
            && (report.skips[.reportNotQuiescent] ?? 0) == 0
    }
}
