/// The rules of one pass, as values: what counts as settled, how long to wait for a report,
/// how far back to look and how many uploads one pass may make.
public struct ScanPolicy: Hashable, Sendable {
    /// A file quiet for less than this is still being written (see `SettleRule`).
    public var quiescencePeriod: Duration
    /// A binary with no report this long after it settled is sent alone.
    public var reportGracePeriod: Duration
    /// Binaries whose event time is longer ago than this are ignored.
    public var maximumEventAge: Duration
    /// At most this many uploads per pass; nil means unlimited.
    public var forwardsPerPassLimit: Int?
    /// Whether the modification time or the name's event time decides the age window.
    public var eventAgeSource: EventAgeSource

    public init(quiescencePeriod: Duration = .seconds(5), reportGracePeriod: Duration = .seconds(60),
                maximumEventAge: Duration = .seconds(365 * 86_400), forwardsPerPassLimit: Int? = 500,
                eventAgeSource: EventAgeSource = .modificationTime) {
        self.quiescencePeriod = quiescencePeriod
        self.reportGracePeriod = reportGracePeriod
        self.maximumEventAge = maximumEventAge
        self.forwardsPerPassLimit = forwardsPerPassLimit
        self.eventAgeSource = eventAgeSource
    }

    /// The longest quiet time the planner compares a file's with (the quiescence period, or the
    /// report grace period): a file quiet this long has every quiet-time verdict settled.
    public var longestJudgedQuietTime: Duration { max(quiescencePeriod, reportGracePeriod) }

    /// Whether `binary` is older than the age window at `now`, by the configured age source.
    public func isTooOld(_ binary: FolderEntry, now: FileTime) -> Bool {
        eventAgeSource.eventTime(of: binary) < now - maximumEventAge
    }
}

/// Why a folder entry was not uploaded in a pass.
public enum SkipReason: String, CaseIterable, Hashable, Sendable, Codable {
    /// Not an event binary and not a report: noise.
    case notAnEvent
    /// A sub-folder, link or device.
    case notARegularFile
    /// The binary's event time (modification time, or the name's time) is older than the age window.
    case tooOld
    /// The binary has been quiet for less than the quiescence period.
    case binaryNotQuiescent
    /// Its report exists but has been quiet for less than the quiescence period.
    case reportNotQuiescent
    /// No report yet and the grace period has not run out.
    case awaitingReport
    /// The same bytes were accepted before (with a report, or with none to add).
    case alreadyForwarded
    /// The file changed or vanished between listing and reading.
    case changedWhileReading
    /// The file could not be read.
    case unreadable
    /// The pass reached its upload cap before this candidate.
    case passLimitReached
    /// The same bytes, under another name, are being uploaded right now.
    case sameContentInFlight
    /// An earlier upload failed and the event's backoff has not run out.
    case backingOff
    /// The server refused the event too often; it waits for `event-forwarder retry`.
    case quarantined
    /// The server looked down (the circuit breaker opened), so the pass stopped uploading.
    case serverUnavailable
    /// The server answered 429 or 503 with a `Retry-After` that has not run out, so the pass
    /// starts no upload until then.
    case serverAskedToWait
    /// The state could not be written (a full or read-only disk, an I/O error), so the pass
    /// started no upload: nothing is sent that cannot be recorded.
    case stateUnwritable
}

/// Why a binary is about to be uploaded.
public enum UploadReason: String, Hashable, Sendable, Codable {
    /// Not accepted before.
    case firstForward
    /// Accepted before without its report; the report is here now.
    case lateReport
}

/// A binary the pass should consider uploading, oldest first.
public struct UploadCandidate: Hashable, Sendable {
    public var binary: FolderEntry
    public var report: FolderEntry?
    /// The digest from the cache when the file has not changed since it was hashed.
    public var cachedDigest: EventDigest?
    public var reason: UploadReason

    public init(binary: FolderEntry, report: FolderEntry?, cachedDigest: EventDigest?, reason: UploadReason) {
        self.binary = binary
        self.report = report
        self.cachedDigest = cachedDigest
        self.reason = reason
    }
}

/// What the planner concluded from one listing.
public struct ScanPlan: Hashable, Sendable {
    public var listedEntryCount: Int
    public var eventBinaryCount: Int
    public var reportCount: Int
    /// Oldest modification time first, then name.
    public var candidates: [UploadCandidate]
    public var skips: [SkipReason: Int]
    /// Of the events backing off, the one whose wait ends first: with the circuit open and
    /// nothing due, the pass probes the server with it (see `EventForwarder`).
    public var soonestBackingOff: UploadCandidate?
}

/// What the forwarder knows about files it hashed, by exact name.
///
/// This is the digest cache: a name whose size, modification time and identity match the
/// cached fingerprint keeps its digest, so a steady pass reads no file contents. Files hashed
/// in this run are remembered here; files hashed in earlier runs are looked up in the state by
/// name (`recorded`), which keeps its records' fingerprints, so nothing copies the whole state.
public struct DigestCache: Sendable {
    private var entries: [String: (fingerprint: FileFingerprint, digest: EventDigest)] = [:]
    /// The state's record accepted last under a name, if any.
    private let recorded: (@Sendable (String) -> ForwardRecord?)?

    public init() { recorded = nil }

    /// A cache that falls back on the state's records by name (`ForwardStateStore.record(forName:)`).
    public init(recorded: @escaping @Sendable (String) -> ForwardRecord?) {
        self.recorded = recorded
    }

    /// Seeds the cache from records, which carry the fingerprint they were hashed at.
    public init(records: some Sequence<ForwardRecord>) {
        recorded = nil
        for record in records {
            if let fingerprint = record.fingerprint {
                entries[record.fileName] = (fingerprint, record.digest)
            }
        }
    }

    /// How many files hashed in this run (or given at `init(records:)`) the cache remembers.
    public var count: Int { entries.count }

    /// The cached digest of `entry`, if the file is unchanged since it was hashed.
    public func digest(for entry: FolderEntry) -> EventDigest? {
        if let cached = entries[entry.name], cached.fingerprint == entry.fingerprint { return cached.digest }
        guard let record = recorded?(entry.name), let fingerprint = record.fingerprint,
              fingerprint == entry.fingerprint else { return nil }
        return record.digest
    }

    public mutating func remember(_ digest: EventDigest, for entry: FolderEntry) {
        entries[entry.name] = (entry.fingerprint, digest)
    }

    /// Drops names that are no longer in the folder, so the cache cannot grow without bound.
    public mutating func retainOnly(names: Set<String>) {
        entries = entries.filter { names.contains($0.key) }
    }

    /// Drops the remembered names that are not regular files of `listing`; builds nothing when
    /// the cache remembers nothing, as in a steady pass after a restart.
    public mutating func retainOnly(regularFilesOf listing: FolderListing) {
        guard !entries.isEmpty else { return }
        retainOnly(names: Set(listing.indices.lazy.filter { listing.kind(at: $0) == .regularFile }.map(listing.name(at:))))
    }
}

/// Decides, from one listing and without touching the disk, what a pass should upload.
public enum ScanPlanner {
    /// Plans a pass.
    ///
    /// - Parameters:
    ///   - entries: the folder listing; names are classified as bytes, and a `FolderEntry` is
    ///     built only for each event binary and each report paired with a candidate.
    ///   - now: the wall time the listing is judged against.
    ///   - monotonicNow: the monotonic time the listing was taken at.
    ///   - observations: how long each file has been seen unchanged (see `SettleRule`); the
    ///     caller records the listing in it before planning.
    ///   - cache: digests of files hashed before.
    ///   - acceptedRecord: the state's record for a digest, if that content was accepted.
    ///   - deliveryAttempts: the state's failed attempts under a name; an event that is backing
    ///     off or quarantined is skipped here, before the cap, so it never holds others up.
    public static func plan(entries: FolderListing, now: FileTime, monotonicNow: MonotonicTime = .origin,
                            observations: SettleObservations = SettleObservations(),
                            policy: ScanPolicy, cache: DigestCache,
                            acceptedRecord: (EventDigest) -> ForwardRecord?,
                            deliveryAttempts: (String) -> DeliveryAttempts? = { _ in nil }) -> ScanPlan {
        var skips: [SkipReason: Int] = [:]
        // Positions in `entries` rather than copies of them, and reports keyed by a packed binary
        // name rather than a heap string: at 100,000 events the copies and then the strings made
        // the planner a large user of memory in `status` and `once`.
        var binaries: [Int32] = []
        var reportCount = 0
        for position in entries.indices {
            guard entries.kind(at: position) == .regularFile else {
                skips[.notARegularFile, default: 0] += 1
                continue
            }
            entries.withName(at: position) { name in
                if EventFileRules.isEventBinary(utf8: name) {
                    binaries.append(Int32(position))
                } else if EventFileRules.isReportName(utf8: name) {
                    reportCount += 1
                } else {
                    skips[.notAnEvent, default: 0] += 1
                }
            }
        }
        // A second sweep once the reports are counted: the index is then reserved exactly
        // rather than grown by doubling (a third more at 100,000 reports). A report name is
        // never an event binary's (`TXT` is an excluded extension).
        var reports = ReportIndex(reportCount: reportCount)
        for position in entries.indices where entries.kind(at: position) == .regularFile {
            entries.withName(at: position) { name in
                if EventFileRules.isReportName(utf8: name) { reports.insert(reportName: name, at: Int32(position)) }
            }
        }
        reports.seal()

        func quietTime(at position: Int) -> Duration {
            SettleRule.quietTime(of: entries, at: position, wallNow: now, monotonicNow: monotonicNow,
                                 observations: observations)
        }
        var candidates: [UploadCandidate] = []
        var soonestBackingOff: (until: FileTime, candidate: UploadCandidate)?
        for binaryPosition in binaries.lazy.map(Int.init) {
            // An event binary's name fits in a `String` without a heap allocation.
            let binary = entries[binaryPosition]
            if policy.isTooOld(binary, now: now) {
                skips[.tooOld, default: 0] += 1
                continue
            }
            let binaryQuietTime = quietTime(at: binaryPosition)
            if binaryQuietTime < policy.quiescencePeriod {
                skips[.binaryNotQuiescent, default: 0] += 1
                continue
            }
            // The ACH name is preferred; the first name that exists decides, settled or not.
            let reportPosition = reports.reportPosition(forBinary: binary.name)
            if let reportPosition, quietTime(at: reportPosition) < policy.quiescencePeriod {
                skips[.reportNotQuiescent, default: 0] += 1
                continue
            }
            let cachedDigest = cache.digest(for: binary)
            var reason = UploadReason.firstForward
            if let cachedDigest, let accepted = acceptedRecord(cachedDigest) {
                if accepted.hadReport || reportPosition == nil {
                    skips[.alreadyForwarded, default: 0] += 1
                    continue
                }
                reason = .lateReport
            }
            if reportPosition == nil, binaryQuietTime < policy.reportGracePeriod {
                skips[.awaitingReport, default: 0] += 1
                continue
            }
            let candidate = UploadCandidate(binary: binary, report: reportPosition.map { entries[$0] },
                                            cachedDigest: cachedDigest, reason: reason)
            switch RetryPlanner.standing(of: binary, attempts: deliveryAttempts(binary.name), now: now) {
            case .due:
                candidates.append(candidate)
            case .backingOff(let until):
                skips[.backingOff, default: 0] += 1
                if soonestBackingOff.map({ until < $0.until }) ?? true { soonestBackingOff = (until, candidate) }
            case .quarantined:
                skips[.quarantined, default: 0] += 1
            }
        }
        candidates.sort { lhs, rhs in
            lhs.binary.modificationTime != rhs.binary.modificationTime
                ? lhs.binary.modificationTime < rhs.binary.modificationTime
                : lhs.binary.name < rhs.binary.name
        }
        return ScanPlan(listedEntryCount: entries.count, eventBinaryCount: binaries.count,
                        reportCount: reportCount, candidates: candidates, skips: skips,
                        soonestBackingOff: soonestBackingOff?.candidate)
    }

    /// Decides, once a candidate's bytes are hashed, whether they still need uploading.
    ///
    /// The cache may not have known the digest (first sight, or a file that changed), and the
    /// same bytes may have been accepted under another name.
    public static func decide(_ candidate: UploadCandidate, digest: EventDigest,
                              acceptedRecord: ForwardRecord?) -> UploadDecision {
        guard let acceptedRecord else { return .upload(.firstForward) }
        if acceptedRecord.hadReport || candidate.report == nil { return .skip(.alreadyForwarded) }
        return .upload(.lateReport)
    }
}

/// The planner's verdict on a hashed candidate.
public enum UploadDecision: Hashable, Sendable {
    case upload(UploadReason)
    case skip(SkipReason)
}
