/// What one pass did, for logs, `status` and the simulation's checkers.
public struct PassReport: Hashable, Sendable, Codable {
    public var startedAt: FileTime
    public var finishedAt: FileTime
    public var listedEntries = 0
    public var eventBinaries = 0
    public var reports = 0
    /// Candidates the planner found ready to upload (before the cap and the digest check).
    public var pending = 0
    public var uploadsAttempted = 0
    public var forwarded = 0
    public var forwardedWithReport = 0
    public var lateReportsResent = 0
    public var rejected = 0
    public var failed = 0
    public var uploadedBytes: Int64 = 0
    public var skips: [SkipReason: Int] = [:]
    /// Whether the pass stopped early because a stop was requested.
    public var interrupted = false
    /// Events the server refused often enough in this pass to be quarantined.
    public var quarantined = 0
    /// Whether the circuit breaker stopped the pass because the server looked down.
    public var circuitOpened = false
    /// When the server's `Retry-After` (on a 429 or 503) lets uploads start again, if the pass
    /// ended while it was still running.
    public var serverAskedToWaitUntil: FileTime?
    /// Uploads in flight allowed at the end of the pass (adaptive concurrency's current limit).
    public var concurrencyLimit: Int?
    /// Why the state could not be written in this pass (the file and the OS error), if it could
    /// not; what the server accepted is then kept in memory until a later pass writes it.
    public var stateUnwritable: String?

    public init(startedAt: FileTime) {
        self.startedAt = startedAt
        self.finishedAt = startedAt
    }

    /// Uploads that did not end in acceptance.
    public var errors: Int { rejected + failed }

    public mutating func skip(_ reason: SkipReason, count: Int = 1) {
        skips[reason, default: 0] += count
    }

    /// One line for logs: every counter that is not zero.
    public var summary: String {
        var parts = ["listed=\(listedEntries)", "binaries=\(eventBinaries)", "pending=\(pending)",
                     "forwarded=\(forwarded)", "with_report=\(forwardedWithReport)",
                     "late_report_resent=\(lateReportsResent)", "errors=\(errors)"]
        for reason in SkipReason.allCases {
            if let count = skips[reason], count > 0 { parts.append("skip.\(reason.rawValue)=\(count)") }
        }
        if quarantined > 0 { parts.append("quarantined=\(quarantined)") }
        if circuitOpened { parts.append("circuit_open") }
        if let serverAskedToWaitUntil { parts.append("server_asked_to_wait_until=\(serverAskedToWaitUntil)") }
        if let concurrencyLimit { parts.append("concurrency_limit=\(concurrencyLimit)") }
        if stateUnwritable != nil { parts.append("state_unwritable") }
        if interrupted { parts.append("interrupted") }
        return parts.joined(separator: " ")
    }
}

extension PassReport {
    /// Decodes a report of this release or an earlier one: counters an earlier release did not
    /// write (quarantine, the circuit breaker) read as zero, so `status` after an upgrade still
    /// shows the last pass.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func count(_ key: CodingKeys) throws -> Int { try container.decodeIfPresent(Int.self, forKey: key) ?? 0 }
        self.init(startedAt: try container.decode(FileTime.self, forKey: .startedAt))
        finishedAt = try container.decode(FileTime.self, forKey: .finishedAt)
        listedEntries = try count(.listedEntries)
        eventBinaries = try count(.eventBinaries)
        reports = try count(.reports)
        pending = try count(.pending)
        uploadsAttempted = try count(.uploadsAttempted)
        forwarded = try count(.forwarded)
        forwardedWithReport = try count(.forwardedWithReport)
        lateReportsResent = try count(.lateReportsResent)
        rejected = try count(.rejected)
        failed = try count(.failed)
        uploadedBytes = try container.decodeIfPresent(Int64.self, forKey: .uploadedBytes) ?? 0
        skips = try container.decodeIfPresent([SkipReason: Int].self, forKey: .skips) ?? [:]
        interrupted = try container.decodeIfPresent(Bool.self, forKey: .interrupted) ?? false
        quarantined = try count(.quarantined)
        circuitOpened = try container.decodeIfPresent(Bool.self, forKey: .circuitOpened) ?? false
        serverAskedToWaitUntil = try container.decodeIfPresent(FileTime.self, forKey: .serverAskedToWaitUntil)
        concurrencyLimit = try container.decodeIfPresent(Int.self, forKey: .concurrencyLimit)
        stateUnwritable = try container.decodeIfPresent(String.self, forKey: .stateUnwritable)
    }
}

extension FileTime: Codable {
    public init(from decoder: any Decoder) throws {
        self.init(nanosecondsSince1970: try decoder.singleValueContainer().decode(Int64.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(nanosecondsSince1970)
    }
}

/// What a seed-state run did.
public struct SeedReport: Hashable, Sendable, Codable {
    public var eventBinaries = 0
    public var seeded = 0
    public var alreadyKnown = 0
    public var skippedTooOld = 0
    public var unreadable = 0
    public var hashedBytes: Int64 = 0

    public init() {}

    public var summary: String {
        "binaries=\(eventBinaries) seeded=\(seeded) already_known=\(alreadyKnown) "
            + "skipped_too_old=\(skippedTooOld) unreadable=\(unreadable)"
    }
}
