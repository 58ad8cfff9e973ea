/// How uploads that were not accepted are tried again.
///
/// Each event backs off on its own (exponential, full jitter), so one event the server keeps
/// refusing never holds the others up; after enough refusals it is quarantined until someone
/// releases it. The circuit breaker is about the server rather than one event: after enough
/// failures in a row a pass stops, and the next pass probes with a single upload.
public struct RetryPolicy: Hashable, Sendable {
    /// The backoff ceiling after the first failure; it doubles with every further failure.
    public var baseDelay: Duration
    /// The backoff ceiling never grows past this.
    public var maximumDelay: Duration
    /// Refusals (not transient failures) after which an event is quarantined.
    public var quarantineAfterRejections: Int
    /// Failed uploads in a row (timeouts, connection errors, 408, 429, 5xx) that open the circuit.
    public var circuitBreakerFailures: Int

    /// A `Retry-After` longer than this is cut to it, so one odd header cannot park an event for weeks.
    public static let longestRetryAfter: Duration = .seconds(86_400)

    public init(baseDelay: Duration = .seconds(30), maximumDelay: Duration = .seconds(3_600),
                quarantineAfterRejections: Int = 5, circuitBreakerFailures: Int = 5) {
        self.baseDelay = baseDelay
        self.maximumDelay = maximumDelay
        self.quarantineAfterRejections = quarantineAfterRejections
        self.circuitBreakerFailures = circuitBreakerFailures
    }
}

/// What the state remembers of an event binary that was uploaded and not accepted.
///
/// Kept by file name and dropped when that name is accepted or released; the fingerprint ties
/// it to the bytes that failed, so a file that is replaced gets a fresh start.
public struct DeliveryAttempts: Hashable, Sendable {
    public var fileName: String
    public var digest: EventDigest
    public var fingerprint: FileFingerprint
    /// Uploads since the last acceptance or release that did not end in acceptance.
    public var failures: Int
    /// Of those, the ones the server refused; these lead to quarantine.
    public var rejections: Int
    public var lastAttemptAt: FileTime
    /// No automatic attempt before this time.
    public var nextAttemptAt: FileTime
    /// No automatic attempt at all until released with `event-forwarder retry`.
    public var quarantined: Bool
    /// The last problem, on one line, for `status` and logs.
    public var lastError: String

    public init(fileName: String, digest: EventDigest, fingerprint: FileFingerprint, failures: Int, rejections: Int,
                lastAttemptAt: FileTime, nextAttemptAt: FileTime, quarantined: Bool, lastError: String) {
        self.fileName = fileName
        self.digest = digest
        self.fingerprint = fingerprint
        self.failures = failures
        self.rejections = rejections
        self.lastAttemptAt = lastAttemptAt
        self.nextAttemptAt = nextAttemptAt
        self.quarantined = quarantined
        self.lastError = lastError
    }
}

/// Where an event stands with its retries at the start of a pass.
public enum RetryStanding: Hashable, Sendable {
    /// Never failed, or failed and its wait is over.
    case due
    case backingOff(until: FileTime)
    case quarantined
}

/// Decides backoff and quarantine; pure, with the randomness passed in.
public enum RetryPlanner {
    /// Where `entry` stands, given what the state remembers of its name.
    ///
    /// Attempts made on other bytes (the file was replaced or rewritten) do not count. A wall
    /// clock now before the last attempt was stepped back, so the wait cannot be measured: the
    /// event is due, rather than held for as long as the clock went back.
    public static func standing(of entry: FolderEntry, attempts: DeliveryAttempts?, now: FileTime) -> RetryStanding {
        guard let attempts, attempts.fingerprint == entry.fingerprint else { return .due }
        if attempts.quarantined { return .quarantined }
        if now < attempts.lastAttemptAt { return .due }
        return now < attempts.nextAttemptAt ? .backingOff(until: attempts.nextAttemptAt) : .due
    }

    /// The longest wait after `failures` failures in a row: `base × 2^(failures−1)`, at most the maximum.
    public static func backoffCeiling(afterFailures failures: Int, policy: RetryPolicy) -> Duration {
        let doublings = UInt64(max(0, min(failures - 1, 62)))
        let ceiling = Double(policy.baseDelay.wholeNanoseconds) * Double(UInt64(1) << doublings)
        return .nanoseconds(Int64(min(ceiling, Double(policy.maximumDelay.wholeNanoseconds))))
    }

    /// The attempts after one more upload that was not accepted.
    ///
    /// The wait is drawn uniformly between zero and the ceiling (full jitter), so many events
    /// that failed together do not return together; a `Retry-After` from the server is a floor,
    /// and the whole wait when it paused the forwarder (`ServerPause`).
    public static func afterFailure(_ previous: DeliveryAttempts?, fileName: String, digest: EventDigest,
                                    fingerprint: FileFingerprint, problem: UploadProblem, rejected: Bool,
                                    now: FileTime, policy: RetryPolicy,
                                    random: inout some RandomNumberGenerator) -> DeliveryAttempts {
        var attempts = previous.flatMap { $0.digest == digest ? $0 : nil }
            ?? DeliveryAttempts(fileName: fileName, digest: digest, fingerprint: fingerprint, failures: 0, rejections: 0,
                                lastAttemptAt: now, nextAttemptAt: now, quarantined: false, lastError: "")
        attempts.fileName = fileName
        attempts.fingerprint = fingerprint
        attempts.failures += 1
        if rejected { attempts.rejections += 1 }
        attempts.lastAttemptAt = now
        attempts.lastError = oneLine(problem.description)
        attempts.quarantined = attempts.rejections >= policy.quarantineAfterRejections
        let ceiling = backoffCeiling(afterFailures: attempts.failures, policy: policy).wholeNanoseconds
        var wait = ceiling > 0 ? Int64.random(in: 0...ceiling, using: &random) : 0
        if let resumeTime = ServerPause.resumeTime(after: problem, now: now) {
            // The server paused the whole forwarder (429 or 503 with Retry-After): the answer is
            // about the server's load, not this event, so the event waits out the pause only.
            // A backoff on top would hold it passes after every other event went on.
            wait = (resumeTime - now).wholeNanoseconds
        } else if let retryAfter = problem.retryAfter {
            wait = max(wait, retryAfter.wait(from: now, longest: RetryPolicy.longestRetryAfter).wholeNanoseconds)
        }
        attempts.nextAttemptAt = now + .nanoseconds(wait)
        return attempts
    }

    /// The attempts of an event whose failures were all transient, due at `now`: the server
    /// answers again after the circuit breaker had opened.
    ///
    /// Backoffs that grew while the server was down say nothing about the events; waiting them
    /// out after recovery would hold a fleet's backlog minutes past the outage. Events the
    /// server refused, and quarantined ones, keep their wait. Nil when nothing changes.
    public static func releasedOnRecovery(_ attempts: DeliveryAttempts, now: FileTime) -> DeliveryAttempts? {
        guard !attempts.quarantined, attempts.rejections == 0, attempts.nextAttemptAt > now else { return nil }
        var released = attempts
        released.nextAttemptAt = now
        return released
    }

    /// `text` with tabs and line breaks turned into spaces and cut to 300 characters, so it fits
    /// one state line and one status line.
    public static func oneLine(_ text: String) -> String {
        let flat = String(text.map { $0 == "\t" || $0.isNewline ? " " : $0 })
        return flat.count > 300 ? String(flat.prefix(300)) + "…" : flat
    }
}

/// A small, fast generator that gives the same numbers for the same seed on every platform.
///
/// The backoff jitter draws from it, so a simulated run and a bug report can be replayed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }
}
