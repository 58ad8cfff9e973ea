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
        if interrupted { parts.append("interrupted") }
        return parts.joined(separator: " ")
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
