import ForwarderCore
import ForwarderIO
import ForwarderSimulation
import Foundation
import MockSFMServer
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A small fleet in the live world: the day compressed into about a minute.
public struct LiveFleetOptions: Sendable {
    public var seed: UInt64
    public var pcCount: Int
    /// About this many events on each PC over the compressed day; PC 0 also starts with a
    /// backlog of twice as many (two days never sent, as the simulated fleet's backlog PCs).
    public var eventsPerPC: Int
    public var forwarderExecutable: String
    /// Simulated seconds per real second: 1440 plays a day in a minute.
    public var speed: Double
    /// The server: the simulated fleet's service times, with a `Retry-After` of 1 s for the
    /// compressed day and 5 slots, one more than a forwarder's most uploads in flight
    /// (`SFM_UPLOAD_CONCURRENCY`, 4): one PC draining its backlog can nearly fill it, and the
    /// others' trickle still finds a slot (docs/DECISIONS.md, "The live fleet's full verdict").
    public var capacity: FleetServerCapacity
    /// After the day, how long the forwarders may take to send what is left.
    public var drainTimeout: Duration
    /// Where the PCs' folders, states and logs go; given, it is kept with the server's journal
    /// (`journal.json`) for a look afterwards, else a temporary folder is removed.
    public var workFolder: String?

    public init(seed: UInt64, pcCount: Int = 3, eventsPerPC: Int = 30, forwarderExecutable: String, speed: Double = 1440,
                capacity: FleetServerCapacity = FleetServerCapacity(maximumInProgress: 5, retryAfterSeconds: 1),
                drainTimeout: Duration = .seconds(120), workFolder: String? = nil) {
        self.seed = seed
        self.pcCount = pcCount
        self.eventsPerPC = eventsPerPC
        self.forwarderExecutable = forwarderExecutable
        self.speed = speed
        self.capacity = capacity
        self.drainTimeout = drainTimeout
        self.workFolder = workFolder
    }

    /// The scripted day on the real clock from `start`: a day's events in `24 h ÷ speed`, the
    /// outage and the slow period in the same places, each a few seconds long (scaled like the
    /// day, they would be gone in a blink).
    func day(startingAt start: FileTime) -> FleetDay {
        let length = Duration.seconds(86_400) / speed
        return FleetDay(start: start, length: length, backlogShare: 1 / Double(max(1, pcCount)), backlogDays: 2,
                        outageStart: length * (10.0 / 24), outageDuration: .seconds(6),
                        slowStart: length * (14.0 / 24), slowDuration: .seconds(8), slowdown: FleetDay().slowdown)
    }
}

/// What a live fleet did, judged by the same checkers as the simulated one.
public struct LiveFleetResult: Sendable {
    public var evidence: FleetEvidence
    public var timeline: FleetTimeline
    public var violations: [CheckerViolation]
    public var finished: Bool
    public var elapsed: Duration
    /// Requests in the server's journal for which no forwarder logged an outcome (see
    /// `LiveFleetLog`): each is judged as not seen accepted, so this should stay at zero.
    public var requestsWithoutLoggedOutcome: Int

    public var verdict: [CheckerViolation] {
        violations + (finished ? [] : [CheckerViolation(rule: "unfinished", pass: nil,
                                                        detail: "the forwarders did not record every event in time")])
    }
}

/// Several real `event-forwarder run` processes, each on its own folder and state, against the
/// mock SFM with a capacity on 127.0.0.1, through the scripted day compressed in time.
///
/// The outage is a fault plan window of reset connections; the slow period a capacity plan
/// with longer service times, installed and removed on time. The evidence comes from the
/// mock's journal (who sent what, when it started and finished, what it answered), the
/// generator's manifests (with their planned times mapped to the real ones) and each
/// forwarder's state file, read after it stopped.
public struct LiveFleet: Sendable {
    public let options: LiveFleetOptions

    public init(_ options: LiveFleetOptions) { self.options = options }

    public func run() async throws -> LiveFleetResult {
        let startedAt = ContinuousClock.now
        let root = try options.workFolder ?? CrashTest.makeTemporaryFolder()
        defer { if options.workFolder == nil { try? FileManager.default.removeItem(atPath: root) } }
        let now = FileTime(Date())
        let day = options.day(startingAt: now + .seconds(2))
        let serialsPerPC = 24_000 / max(1, options.pcCount)

        let mock = MockSFM(configuration: MockSFM.Configuration(seed: options.seed, retainsReportText: false),
                           faultPlan: FaultPlan(rules: [FaultRule(
                               name: "outage", fault: .connectionReset,
                               window: TimeWindow(startSeconds: (day.start - now + day.outageStart).secondsValue,
                                                  durationSeconds: day.outageDuration.secondsValue))]),
                           planInstalledAt: now)
        mock.replaceCapacityPlan(options.capacity.plan(slowdown: 1), at: now)
        let server = try await MockSFMServer.start(mock: mock)

        var pcs: [PCFolder] = []
        for index in 0..<options.pcCount {
            var random = SeededRandom(seed: options.seed).derived("pc \(index)")
            let pc = try PCFolder(root: root, index: index, seed: random.next(), hasBacklog: index == 0,
                                  options: options, firstSerial: 1000 + index * serialsPerPC, serialCount: serialsPerPC,
                                  serverURL: server.baseURL, day: day)
            pcs.append(pc)
        }
        var processes: [ForwarderProcess] = []
        var problems: [String] = []
        var finished = false
        do {
            for pc in pcs {
                processes.append(try ForwarderProcess.start(
                    executable: options.forwarderExecutable, arguments: ["run", "--config", pc.configPath],
                    environment: ForwarderProcess.environment(withoutSettingsBut: [:]), logPath: pc.logPath))
            }
            let dayStart = ContinuousClock.now + (day.start - FileTime(Date()))
            let writers = pcs.map { pc in Task { try await pc.writeDay(speed: options.speed, startingAt: dayStart) } }
            // On a thread of its own, like the writers: the slow period starts and ends on time
            // however busy the cooperative pool is.
            let capacity = options.capacity
            let slowdown = Task {
                await ForwarderProcess.onOwnThread {
                    Self.sleepOnThisThread(until: day.slowPeriod.lowerBound)
                    mock.replaceCapacityPlan(capacity.plan(slowdown: day.slowdown), at: FileTime(Date()))
                    Self.sleepOnThisThread(until: day.slowPeriod.upperBound)
                    mock.replaceCapacityPlan(capacity.plan(slowdown: 1), at: FileTime(Date()))
                }
            }
            for writer in writers { try await writer.value }
            await slowdown.value
            let deadline = ContinuousClock.now + options.drainTimeout
            while ContinuousClock.now < deadline {
                let atServer = Set(mock.events().map(\.binaryName))
                if pcs.allSatisfy({ $0.manifest.allSatisfy { atServer.contains($0.binary) } }) {
                    finished = true
                    break
                }
                try await Task.sleep(for: .milliseconds(250))
            }
            // A second more, so the last acceptances reach the states.
            try await Task.sleep(for: .seconds(1))
        } catch {
            problems.append("\(error)")
        }
        for process in processes {
            process.send(SIGTERM)
            if await process.waitForExit(timeout: .seconds(30)) == nil { _ = await process.killAndReap() }
        }
        try await server.shutdown()
        if options.workFolder != nil {
            try JSONEncoder().encode(mock.journal()).write(to: URL(fileURLWithPath: root + "/journal.json"))
        }
        if let problem = problems.first { throw ForwarderProcessError(detail: problem) }

        let endedAt = FileTime(Date())
        let recordedDigests = try pcs.map { pc in
            try FileStateStore(path: pc.statePath, readOnly: true).allRecords().map(\.digest)
        }
        let logs = try pcs.map { try LiveFleetLog.outcomes(ofLogAt: $0.logPath) }
        let journal = LiveFleetLog.withLoggedOutcomes(Self.requests(from: mock.journal()), logs: logs)
        let evidence = FleetEvidence(
            pcs: pcs.map { FleetEvidence.PC(manifest: $0.manifest, hasBacklog: $0.hasBacklog) },
            journal: journal.requests, storedEvents: mock.events(), recordedDigests: recordedDigests,
            day: day, capacity: options.capacity, settleAllowance: .seconds(5), recoveryWindow: .seconds(5), endedAt: endedAt)
        return LiveFleetResult(
            evidence: evidence,
            timeline: FleetTimeline(manifests: pcs.map(\.manifest), journal: evidence.journal, start: day.start,
                                    until: endedAt, step: .seconds(1)),
            violations: FleetChecker.check(evidence), finished: finished, elapsed: ContinuousClock.now - startedAt,
            requestsWithoutLoggedOutcome: journal.unlogged)
    }

    static func sleepOnThisThread(until time: FileTime) {
        let wait = time - FileTime(Date())
        if wait > .zero { Thread.sleep(forTimeInterval: wait.secondsValue) }
    }

    /// The mock's journal as the fleet's requests: the PC from the serial hint each forwarder
    /// sends, start and finish from the time in queue and in service, a reset connection (the
    /// outage) as unreachable. What the forwarder made of each answer is left to its log.
    static func requests(from journal: [JournalEntry]) -> [FleetRequest] {
        journal.compactMap { entry in
            guard let hint = entry.serialHint, hint.hasPrefix("pc-"), let pc = Int(hint.dropFirst(3)) else { return nil }
            let binary = entry.files.first { $0.role == "binary" }
            let digest = binary.flatMap { EventDigest(hex: $0.digest) } ?? EventDigest(of: Data())
            let row = entry.rows.first { $0.filename == binary?.name }
            let answer: FleetRequest.ServerAnswer
            if entry.fault?.kind == "connectionReset" {
                answer = .unreachable
            } else if entry.outcome == .refused {
                answer = .refused(status: entry.httpStatus ?? 0)
            } else {
                let startedAt = entry.receivedAtTime + .milliseconds(Int64((entry.queueMilliseconds ?? 0).rounded()))
                answer = .served(startedAt: startedAt,
                                 finishedAt: startedAt + .milliseconds(Int64((entry.serviceMilliseconds ?? 0).rounded())),
                                 status: entry.httpStatus ?? 0)
            }
            return FleetRequest(pc: pc, arrivedAt: entry.receivedAtTime, byteCount: entry.bodyByteCount,
                                binaryName: binary?.name ?? "", binaryDigest: digest,
                                hasReport: entry.files.contains { $0.role == "report" }, answer: answer, stored: entry.stored,
                                alreadyHeld: row?.skipped == 1, clientOutcome: nil)
        }
    }
}

/// One PC of the live fleet: its folder, state and config, and its day's events.
struct PCFolder {
    let root: String
    let folderPath: String
    let statePath: String
    let configPath: String
    let logPath: String
    let hasBacklog: Bool
    let livePlan: FolderPlan
    /// The manifest with the live events' times moved to when they are really written.
    let manifest: [ManifestEntry]
    let day: FleetDay

    init(root parent: String, index: Int, seed: UInt64, hasBacklog: Bool, options: LiveFleetOptions, firstSerial: Int,
         serialCount: Int, serverURL: String, day: FleetDay) throws {
        root = parent + "/pc-\(index)"
        folderPath = root + "/autocall home"
        statePath = root + "/forward.state"
        configPath = root + "/config.ini"
        logPath = root + "/run.log"
        self.hasBacklog = hasBacklog
        self.day = day
        try FileManager.default.createDirectory(atPath: folderPath, withIntermediateDirectories: true)
        let profile = FleetPC.profile
        let halfRange = max(FleetPC.unitCount, serialCount / 2)
        var manifest: [ManifestEntry] = []
        if hasBacklog {
            let backlog = FolderPlanner.plan(
                FolderGenerationOptions(seed: seed &+ 1, profile: profile, unitCount: FleetPC.unitCount,
                                        eventCount: options.eventsPerPC * day.backlogDays, startTime: day.start,
                                        serialNumbers: firstSerial...(firstSerial + halfRange - 1)),
                endingAt: day.start - .seconds(600))
            manifest += try DirectoryFolderWriter(directoryPath: folderPath).writeHistory(backlog).manifest
        }
        livePlan = FolderPlanner.plan(FolderGenerationOptions(
            seed: seed, profile: profile, unitCount: FleetPC.unitCount, dayCount: 1,
            eventsPerUnitPerDay: Double(options.eventsPerPC) / Double(FleetPC.unitCount),
            startTime: FileTime(secondsSince1970: 1_777_852_800),
            serialNumbers: (firstSerial + halfRange)...(firstSerial + 2 * halfRange - 1)))
        let firstWrite = LiveWriteSchedule(plan: livePlan).first { _ in true }?.time ?? livePlan.periodStart
        let speed = options.speed
        manifest += livePlan.manifest().map { entry in
            var moved = entry
            moved.binaryModificationTimeNanoseconds = (day.start + (entry.binaryModificationTime - firstWrite) / speed)
                .nanosecondsSince1970
            return moved
        }
        self.manifest = manifest
        let lines = [
            "[forwarder]",
            "SERIES3_PATH = \(folderPath)",
            "SFM_FORWARD_ENABLED = true",
            "SFM_URL = \(serverURL)",
            "SFM_STATE_FILE = \(statePath)",
            "SFM_SERIAL_HINT = pc-\(index)",
            "SFM_FORWARD_INTERVAL_SECONDS = 0.5",
            "SFM_QUIESCENCE_SECONDS = 0.5",
            "SFM_MISSING_REPORT_GRACE_SECONDS = 2",
            "SFM_RETRY_BASE_SECONDS = 1",
            "SFM_RETRY_MAX_SECONDS = 5",
            "SFM_HTTP_TIMEOUT_SECONDS = 10",
            "MAX_EVENT_AGE_DAYS = 36500",
            "SFM_LOG_FORMAT = json",
        ]
        try (lines.joined(separator: "\n") + "\n").write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// Writes the day's events as they happen from `start`, `speed` times faster, with no gap shortened.
    func writeDay(speed: Double, startingAt start: ContinuousClock.Instant) async throws {
        _ = try await LiveTailWriter(directoryPath: folderPath, speed: speed, maximumQuietGap: .seconds(86_400 * 2))
            .write(LiveWriteSchedule(plan: livePlan), startingAt: start)
    }
}
