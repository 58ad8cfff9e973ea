/// How many uploads may be in flight at once, learnt from the server's answers (AIMD).
///
/// In the spirit of Vector's adaptive request concurrency: start at one upload, add one per
/// window while round trips stay near their recent mean, cut multiplicatively when the server
/// pushes back (429, 503, timeouts) or round trips rise well above that mean. A fleet of
/// forwarders sharing one server then finds the server's capacity between them, instead of each
/// sending `SFM_UPLOAD_CONCURRENCY` uploads at once into a server that is already queueing.
///
/// A window is as many completed uploads as the limit allowed when it began, about one round
/// trip at full use; counting uploads rather than time keeps the type clock-free and gives one
/// seed one schedule in the simulation. Pure: the caller measures round trips and reports them.
public struct ConcurrencyLimit: Hashable, Sendable {
    /// What one finished upload says about the server.
    public enum Signal: Hashable, Sendable {
        /// The server answered (accepted or refused the event) after this round trip.
        case answered(roundTrip: Duration)
        /// The server pushed back: 429, 503, 408, 504, or no answer within the timeout.
        case backPressure
        /// Neither: a connection failure or another error status, which the circuit breaker
        /// and the event's own backoff deal with.
        case inconclusive

        public init(_ outcome: UploadOutcome, roundTrip: Duration) {
            switch outcome {
            case .accepted, .rejected: self = .answered(roundTrip: roundTrip)
            case .failed(let problem): self = Self.isBackPressure(problem) ? .backPressure : .inconclusive
            }
        }

        /// 408 and 504 are timeouts the server or a proxy reports; 429 and 503 say "too much".
        static func isBackPressure(_ problem: UploadProblem) -> Bool {
            switch problem.kind {
            case .timeout: return true
            case .httpStatus(let status): return [408, 429, 503, 504].contains(status)
            case .fileError, .nonJSONReply, .missingRow, .transport: return false
            }
        }
    }

    /// Why the limit changed.
    public enum Change: Hashable, Sendable, CustomStringConvertible {
        case raised(from: Int, to: Int)
        case loweredOnBackPressure(from: Int, to: Int)
        case loweredOnSlowerRoundTrips(from: Int, to: Int, windowMean: Duration, recentMean: Duration)

        public var limit: Int {
            switch self {
            case .raised(_, let to), .loweredOnBackPressure(_, let to), .loweredOnSlowerRoundTrips(_, let to, _, _): to
            }
        }

        public var description: String {
            switch self {
            case .raised(let from, let to):
                return "upload concurrency raised from \(from) to \(to): round trips steady"
            case .loweredOnBackPressure(let from, let to):
                return "upload concurrency lowered from \(from) to \(to): the server pushed back"
            case .loweredOnSlowerRoundTrips(let from, let to, let windowMean, let recentMean):
                return "upload concurrency lowered from \(from) to \(to): round trips rose to "
                    + "\(Self.milliseconds(windowMean)) ms from a recent mean of \(Self.milliseconds(recentMean)) ms"
            }
        }

        static func milliseconds(_ duration: Duration) -> Int64 { duration.wholeNanoseconds / 1_000_000 }
    }

    /// Handed out when an upload starts and given back when it finishes: an upload started
    /// before the last cut says nothing about the new limit, so its answer is not counted.
    public struct Ticket: Hashable, Sendable {
        let generation: Int
    }

    /// The constants of the rule; the defaults are what the forwarder uses.
    public struct Tuning: Hashable, Sendable {
        /// Weight of a window's mean round trip in the running mean (Vector's default, 0.4).
        public var meanWeight: Double
        /// A window whose mean is within this many deviations of the running mean is steady.
        public var steadyDeviations: Double
        /// A window whose mean is more than this many deviations above the running mean is a
        /// rise (Vector's default, 2.5).
        public var riseDeviations: Double
        /// Both bands are at least this share of the running mean, so round trips that barely
        /// vary (a deviation near zero) do not read a millisecond of jitter as a rise.
        public var minimumBandRatio: Double
        /// The limit after a cut, as a share of the limit before (rounded down, at least 1).
        public var decreaseRatio: Double
        /// After back-pressure, the limit it came at is tried again only after this many uploads
        /// in steady windows just below it. A server that refuses rather than queues shows its
        /// capacity only by refusing, so each try past it costs a refusal: one per 40 uploads
        /// keeps a forwarder's own refusals near 2.5 %, where a try every window (plain AIMD)
        /// met one refusal every three or four uploads against a server of two slots.
        public var uploadsBeforeRetryingPushBack: Int
        /// A retried limit that meets push-back again is held twice as long below (as TCP's
        /// slow-start threshold stays where loss was met), up to this many uploads: a server
        /// that refuses the same limit every time then costs one refusal per 320 uploads.
        public var longestHoldBeforeRetrying: Int

        public init(meanWeight: Double = 0.4, steadyDeviations: Double = 1, riseDeviations: Double = 2.5,
                    minimumBandRatio: Double = 0.1, decreaseRatio: Double = 0.5, uploadsBeforeRetryingPushBack: Int = 40,
                    longestHoldBeforeRetrying: Int = 320) {
            self.meanWeight = meanWeight
            self.steadyDeviations = steadyDeviations
            self.riseDeviations = riseDeviations
            self.minimumBandRatio = minimumBandRatio
            self.decreaseRatio = decreaseRatio
            self.uploadsBeforeRetryingPushBack = uploadsBeforeRetryingPushBack
            self.longestHoldBeforeRetrying = longestHoldBeforeRetrying
        }
    }

    public let tuning: Tuning
    /// `SFM_UPLOAD_CONCURRENCY`: the limit never goes above it.
    public let maximum: Int
    /// With `false` the limit stays at `maximum`, as before adaptive concurrency.
    public let isAdaptive: Bool
    /// Uploads that may be in flight now.
    public private(set) var current: Int
    /// The running (exponentially weighted) mean of the windows' round trips, in seconds.
    private var meanSeconds: Double?
    /// The running variance around `meanSeconds`, in seconds squared.
    private var varianceSeconds = 0.0
    private var generation = 0
    private var window = Window()
    /// The limit at which the server last pushed back, until a rise reaches it again.
    private var pushedBackAt: Int?
    /// Uploads in steady windows just below `pushedBackAt` since the cut.
    private var uploadsBelowPushBack = 0
    /// Uploads to hold below `pushedBackAt` before trying it again.
    private var uploadsToHold: Int
    /// The limit last tried again after a hold, until a full window at it passes without push-back.
    private var retriedAt: Int?

    private struct Window: Hashable, Sendable {
        var completions = 0
        var roundTripTotalSeconds = 0.0
        var roundTrips = 0
        var backPressure = false
        /// Whether uploads in flight reached the limit: only then is there evidence for one more.
        var reachedLimit = false
    }

    public init(maximum: Int, isAdaptive: Bool, tuning: Tuning = Tuning()) {
        self.tuning = tuning
        self.maximum = max(1, maximum)
        self.isAdaptive = isAdaptive
        current = isAdaptive ? 1 : self.maximum
        uploadsToHold = tuning.uploadsBeforeRetryingPushBack
    }

    /// The running mean round trip, once one window has finished.
    public var meanRoundTrip: Duration? { meanSeconds.map { .nanoseconds(Int64(($0 * 1e9).rounded())) } }

    /// Notes an upload starting with `inFlight` uploads in flight, itself included.
    public mutating func uploadStarted(inFlight: Int) -> Ticket {
        if inFlight >= current { window.reachedLimit = true }
        return Ticket(generation: generation)
    }

    /// Counts a finished upload; at the end of a window, decides the next limit.
    ///
    /// Returns the change, if the limit changed, for the caller to log.
    public mutating func uploadFinished(_ ticket: Ticket, signal: Signal) -> Change? {
        guard isAdaptive, ticket.generation == generation else { return nil }
        window.completions += 1
        switch signal {
        case .answered(let roundTrip):
            window.roundTripTotalSeconds += max(0, roundTrip.secondsValue)
            window.roundTrips += 1
        case .backPressure:
            window.backPressure = true
        case .inconclusive:
            break
        }
        guard window.completions >= current else { return nil }
        let finished = window
        window = Window()
        let windowMean = finished.roundTrips > 0 ? finished.roundTripTotalSeconds / Double(finished.roundTrips) : nil
        defer { if let windowMean { remember(windowMean) } }
        guard let mean = meanSeconds else { return nil }
        let deviation = varianceSeconds.squareRoot()
        let floor = mean * tuning.minimumBandRatio
        if finished.backPressure {
            let before = current
            let change = lower { .loweredOnBackPressure(from: $0, to: $1) }
            if change != nil {
                uploadsToHold = retriedAt == before
                    ? min(uploadsToHold * 2, max(tuning.longestHoldBeforeRetrying, tuning.uploadsBeforeRetryingPushBack))
                    : tuning.uploadsBeforeRetryingPushBack
                pushedBackAt = before
                retriedAt = nil
                uploadsBelowPushBack = 0
            }
            return change
        }
        if let retriedAt, finished.reachedLimit, current >= retriedAt {
            self.retriedAt = nil
            uploadsToHold = tuning.uploadsBeforeRetryingPushBack
        }
        if let windowMean, windowMean > mean + max(tuning.riseDeviations * deviation, floor) {
            return lower { .loweredOnSlowerRoundTrips(from: $0, to: $1, windowMean: Self.duration(windowMean),
                                                       recentMean: Self.duration(mean)) }
        }
        if finished.reachedLimit, current < maximum, let windowMean,
           windowMean <= mean + max(tuning.steadyDeviations * deviation, floor) {
            if let pushedBackAt, current + 1 >= pushedBackAt {
                uploadsBelowPushBack += finished.completions
                guard uploadsBelowPushBack >= uploadsToHold else { return nil }
                self.pushedBackAt = nil
                retriedAt = current + 1
            }
            current += 1
            return .raised(from: current - 1, to: current)
        }
        return nil
    }

    private mutating func lower(_ change: (Int, Int) -> Change) -> Change? {
        let lowered = max(1, Int((Double(current) * tuning.decreaseRatio).rounded(.down)))
        guard lowered < current else { return nil }
        defer {
            current = lowered
            generation += 1
        }
        return change(current, lowered)
    }

    /// Folds a window's mean into the running mean and variance (an exponentially weighted
    /// mean and variance, as in West's incremental form).
    private mutating func remember(_ windowMean: Double) {
        guard let mean = meanSeconds else {
            meanSeconds = windowMean
            return
        }
        let difference = windowMean - mean
        let increment = tuning.meanWeight * difference
        meanSeconds = mean + increment
        varianceSeconds = (1 - tuning.meanWeight) * (varianceSeconds + difference * increment)
    }

    private static func duration(_ seconds: Double) -> Duration { .nanoseconds(Int64((seconds * 1e9).rounded())) }
}
