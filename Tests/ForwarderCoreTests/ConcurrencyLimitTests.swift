import ForwarderCore
import Testing

/// Drives a limit through whole windows: each window starts as many uploads as the limit allows
/// (so the limit is reached) and finishes them all with the same signal.
extension ConcurrencyLimit {
    @discardableResult
    mutating func runWindow(_ signal: Signal) -> Change? {
        var tickets: [Ticket] = []
        for inFlight in 1...current { tickets.append(uploadStarted(inFlight: inFlight)) }
        var change: Change?
        for ticket in tickets {
            if let changed = uploadFinished(ticket, signal: signal) { change = changed }
        }
        return change
    }

    @discardableResult
    mutating func runWindow(seconds: Double) -> Change? {
        runWindow(.answered(roundTrip: .nanoseconds(Int64((seconds * 1e9).rounded()))))
    }
}

@Suite("Concurrency limit")
struct ConcurrencyLimitTests {
    /// A weight of one half keeps every mean and deviation below exact in binary, so the tests
    /// can put a window's mean exactly on a band's edge.
    static let exact = ConcurrencyLimit.Tuning(meanWeight: 0.5)

    /// Limit 2 after windows of 1.0, 2.0 and 1.75 s: running mean 1.625 s, deviation 0.375 s,
    /// so steady up to 2.0 s and a rise above 2.5625 s.
    static func primed(maximum: Int = 8) -> ConcurrencyLimit {
        var limit = ConcurrencyLimit(maximum: maximum, isAdaptive: true, tuning: exact)
        limit.runWindow(seconds: 1.0)
        limit.runWindow(seconds: 2.0)
        limit.runWindow(seconds: 1.75)
        return limit
    }

    @Test("Limit: starts at one, rises by one per steady window, never above the maximum")
    func risesToCap() {
        var limit = ConcurrencyLimit(maximum: 4, isAdaptive: true)
        #expect(limit.current == 1)
        #expect(limit.runWindow(seconds: 0.2) == nil, "the first window only learns the mean")
        var seen: [Int] = []
        for _ in 0..<6 {
            limit.runWindow(seconds: 0.2)
            seen.append(limit.current)
        }
        #expect(seen == [2, 3, 4, 4, 4, 4])
    }

    @Test("Limit: round trips that never move (a simulated clock) still count as steady")
    func zeroRoundTrips() {
        var limit = ConcurrencyLimit(maximum: 3, isAdaptive: true)
        for _ in 0..<4 { limit.runWindow(seconds: 0) }
        #expect(limit.current == 3)
    }

    @Test("Limit: no rise without evidence: a window that never reached the limit holds it")
    func noRiseBelowLimit() {
        var limit = ConcurrencyLimit(maximum: 4, isAdaptive: true)
        limit.runWindow(seconds: 0.2)
        limit.runWindow(seconds: 0.2)
        #expect(limit.current == 2)
        // Two uploads one after the other: never two in flight.
        for _ in 0..<2 {
            let ticket = limit.uploadStarted(inFlight: 1)
            #expect(limit.uploadFinished(ticket, signal: .answered(roundTrip: .milliseconds(200))) == nil)
        }
        #expect(limit.current == 2)
    }

    @Test("Limit: back-pressure halves it, rounded down, never below one")
    func halvesOnBackPressure() {
        var limit = ConcurrencyLimit(maximum: 5, isAdaptive: true)
        for _ in 0..<5 { limit.runWindow(seconds: 0.1) }
        #expect(limit.current == 5)
        #expect(limit.runWindow(.backPressure) == .loweredOnBackPressure(from: 5, to: 2))
        #expect(limit.runWindow(.backPressure) == .loweredOnBackPressure(from: 2, to: 1))
        #expect(limit.runWindow(.backPressure) == nil)
        #expect(limit.current == 1)
    }

    @Test("Limit: after push-back, the limit it came at is tried again only after 40 steady uploads below it; then rises go on")
    func holdsBelowPushBack() {
        var limit = ConcurrencyLimit(maximum: 6, isAdaptive: true)
        for _ in 0..<4 { limit.runWindow(seconds: 0.1) }
        #expect(limit.current == 4)
        #expect(limit.runWindow(.backPressure) == .loweredOnBackPressure(from: 4, to: 2))
        limit.runWindow(seconds: 0.1)
        #expect(limit.current == 3, "below the push-back, one more per steady window as before")
        var uploadsAtThree = 0
        while limit.current == 3, uploadsAtThree < 200 {
            limit.runWindow(seconds: 0.1)
            uploadsAtThree += 3
        }
        #expect(limit.current == 4)
        #expect(uploadsAtThree == 42, "14 windows of 3 uploads: the first count of 40 or more")
        limit.runWindow(seconds: 0.1)
        #expect(limit.current == 5, "past the push-back without a refusal: the server has room, so rise per window again")
    }

    @Test("Limit: a retried limit pushed back again is held twice as long below, up to 320 uploads; a retry that passes resets the hold")
    func holdGrowsOnRepeatedPushBack() {
        var limit = ConcurrencyLimit(maximum: 6, isAdaptive: true)
        for _ in 0..<4 { limit.runWindow(seconds: 0.1) }
        /// Steady windows until the limit leaves `level`: the uploads it spent there.
        func uploadsHeld(at level: Int) -> Int {
            var uploads = 0
            while limit.current == level, uploads < 2000 {
                limit.runWindow(seconds: 0.1)
                uploads += level
            }
            return uploads
        }
        var holds: [Int] = []
        for _ in 0..<5 {
            #expect(limit.current == 4)
            #expect(limit.runWindow(.backPressure) == .loweredOnBackPressure(from: 4, to: 2))
            limit.runWindow(seconds: 0.1)
            holds.append(uploadsHeld(at: 3))
        }
        #expect(holds == [42, 81, 162, 321, 321], "each a first count of 40, 80, 160, 320 and 320 or more, in windows of 3")
        #expect(limit.current == 4)
        limit.runWindow(seconds: 0.1)
        #expect(limit.current == 5, "the retry passed: rise per window again")
        #expect(limit.runWindow(.backPressure) == .loweredOnBackPressure(from: 5, to: 2))
        limit.runWindow(seconds: 0.1)
        limit.runWindow(seconds: 0.1)
        #expect(uploadsHeld(at: 4) == 40, "push-back at another limit: the hold is 40 again")
    }

    @Test("Limit: one push-back in a window is enough to cut")
    func oneBackPressureInWindow() {
        var limit = ConcurrencyLimit(maximum: 4, isAdaptive: true)
        for _ in 0..<4 { limit.runWindow(seconds: 0.1) }
        #expect(limit.current == 4)
        var tickets: [ConcurrencyLimit.Ticket] = []
        for inFlight in 1...4 { tickets.append(limit.uploadStarted(inFlight: inFlight)) }
        for ticket in tickets.dropLast() {
            #expect(limit.uploadFinished(ticket, signal: .answered(roundTrip: .milliseconds(100))) == nil)
        }
        #expect(limit.uploadFinished(tickets[3], signal: .backPressure) == .loweredOnBackPressure(from: 4, to: 2))
    }

    @Test("Limit: answers to uploads started before a cut do not cut again")
    func staleAnswersIgnored() {
        var limit = ConcurrencyLimit(maximum: 4, isAdaptive: true)
        for _ in 0..<4 { limit.runWindow(seconds: 0.1) }
        var early: [ConcurrencyLimit.Ticket] = []
        for inFlight in 1...4 { early.append(limit.uploadStarted(inFlight: inFlight)) }
        _ = limit.uploadFinished(early[0], signal: .backPressure)
        let late = limit.uploadStarted(inFlight: 4)
        for ticket in early.dropFirst() { _ = limit.uploadFinished(ticket, signal: .backPressure) }
        #expect(limit.current == 2)
        #expect(limit.uploadFinished(late, signal: .backPressure) == nil)
        limit.runWindow(seconds: 0.1)
        #expect(limit.current == 3, "the late 429 was about the old limit; the next steady window raises")
    }

    @Test("Limit: 429, 503, 408, 504 and timeouts push back; refusals and acceptances carry a round trip; other failures neither")
    func signals() {
        func failed(_ kind: UploadProblem.Kind) -> UploadOutcome { .failed(UploadProblem(kind: kind, detail: "x")) }
        let roundTrip = Duration.milliseconds(30)
        for status in [408, 429, 503, 504] {
            #expect(ConcurrencyLimit.Signal(failed(.httpStatus(status)), roundTrip: roundTrip) == .backPressure)
        }
        #expect(ConcurrencyLimit.Signal(failed(.timeout), roundTrip: roundTrip) == .backPressure)
        for kind in [UploadProblem.Kind.httpStatus(500), .httpStatus(502), .httpStatus(401), .transport] {
            #expect(ConcurrencyLimit.Signal(failed(kind), roundTrip: roundTrip) == .inconclusive)
        }
        let accepted = UploadOutcome.accepted(ImportFileResult(filename: "a", status: "ok", inserted: 1, skipped: 0))
        #expect(ConcurrencyLimit.Signal(accepted, roundTrip: roundTrip) == .answered(roundTrip: roundTrip))
        let refused = UploadOutcome.rejected(UploadProblem(kind: .httpStatus(400), detail: "bad"))
        #expect(ConcurrencyLimit.Signal(refused, roundTrip: roundTrip) == .answered(roundTrip: roundTrip))
    }

    @Test("Limit: inconclusive failures neither raise nor cut")
    func inconclusiveHolds() {
        var limit = ConcurrencyLimit(maximum: 4, isAdaptive: true)
        for _ in 0..<3 { limit.runWindow(seconds: 0.1) }
        #expect(limit.current == 3)
        #expect(limit.runWindow(.inconclusive) == nil)
        #expect(limit.current == 3)
    }

    @Test("Limit: the steady band's edge, at, just before and just after (deviation-wide band)", arguments: [
        (1.999, 3), (2.0, 3), (2.001, 2),
    ])
    func steadyBandEdge(windowSeconds: Double, expected: Int) {
        var limit = Self.primed()
        #expect(limit.current == 2)
        limit.runWindow(seconds: windowSeconds)
        #expect(limit.current == expected)
    }

    @Test("Limit: the rise band's edge, at, just before and just after (2.5 deviations)", arguments: [
        (2.5615, 2), (2.5625, 2), (2.5635, 1),
    ])
    func riseBandEdge(windowSeconds: Double, expected: Int) {
        var limit = Self.primed()
        let change = limit.runWindow(seconds: windowSeconds)
        #expect(limit.current == expected)
        if expected == 1 {
            #expect(change == .loweredOnSlowerRoundTrips(from: 2, to: 1, windowMean: .nanoseconds(2_563_500_000),
                                                         recentMean: .nanoseconds(1_625_000_000)))
        }
    }

    @Test("Limit: with round trips that never varied, the band is a tenth of the mean, at, just before and just after",
          arguments: [(1.099_999, 3), (1.1, 3), (1.100_001, 1)])
    func minimumBandEdge(windowSeconds: Double, expected: Int) {
        var limit = ConcurrencyLimit(maximum: 8, isAdaptive: true)
        limit.runWindow(seconds: 1.0)
        limit.runWindow(seconds: 1.0)
        #expect(limit.current == 2)
        limit.runWindow(seconds: windowSeconds)
        #expect(limit.current == expected)
    }

    @Test("Limit: turned off, it stays at the maximum whatever the server says")
    func fixedWhenDisabled() {
        var limit = ConcurrencyLimit(maximum: 4, isAdaptive: false)
        #expect(limit.current == 4)
        #expect(limit.runWindow(.backPressure) == nil)
        #expect(limit.runWindow(seconds: 30) == nil)
        #expect(limit.current == 4)
    }

    @Test("Config: adaptive concurrency is on by default, and off with SFM_ADAPTIVE_CONCURRENCY=false")
    func setting() throws {
        #expect(try SettingsResolver.resolve([]).adaptiveConcurrency)
        let off = try SettingsResolver.resolve([SettingsLayer(source: "x", values: ["SFM_ADAPTIVE_CONCURRENCY": "false"])])
        #expect(!off.adaptiveConcurrency)
        #expect(off.uploadConcurrency == ForwarderSettings.defaultUploadConcurrency)
    }

    @Test("Limit: a maximum of one never moves")
    func maximumOne() {
        var limit = ConcurrencyLimit(maximum: 1, isAdaptive: true)
        for _ in 0..<3 { limit.runWindow(seconds: 0.1) }
        #expect(limit.current == 1)
    }
}
