import ForwarderCore
import Logging

extension EventForwarder {
    /// Whether the server asked for a pause that has not run out at `now`; when it has, forgets it.
    func pausedUntil(now: FileTime) -> FileTime? {
        guard let resumeTime = uploadsPausedUntil else { return nil }
        if now < resumeTime { return resumeTime }
        uploadsPausedUntil = nil
        logger.info("the server's requested wait is over; uploads resume", metadata: ["pause.until": "\(resumeTime)"])
        return nil
    }

    /// Waits inside the pass until the server's pause ends; false when a stop was requested first.
    ///
    /// A pass that ended at every short `Retry-After` would wait a whole pass interval to go on,
    /// while forwarders that were not refused kept sending: in a fleet the refused PCs starved.
    /// The wait is sliced so that a stop request is seen within a second.
    func waitOutPause(until resumeTime: FileTime) async -> Bool {
        while !isStopRequested {
            let remaining = resumeTime - clock.now()
            if remaining <= .zero { return true }
            do { try await clock.sleep(for: min(remaining, .seconds(1))) } catch { return false }
        }
        return false
    }

    /// A pass that starts inside a pause it would wait out anyway waits before it plans.
    ///
    /// The events the server refused for that pause are due when it ends; planned before then,
    /// they were still backing off and waited for the next pass, a whole pass later when this
    /// one drained a backlog (the live fleet's last backlog event came 5 s late that way).
    func waitOutPauseBeforePlanning() async {
        guard let resumeTime = pausedUntil(now: clock.now()), resumeTime - clock.now() <= longestPauseWithinPass else { return }
        // A stop request during the wait is seen by the pass, which then starts nothing.
        _ = await waitOutPause(until: resumeTime)
    }

    /// Stops new uploads until the time a 429 or 503 with `Retry-After` named; uploads already
    /// in flight finish. Logged once when the pause starts, not for every answer that extends it.
    func pauseIfAsked(by problem: UploadProblem) {
        let now = clock.now()
        guard let resumeTime = ServerPause.resumeTime(after: problem, now: now) else { return }
        let alreadyPaused = uploadsPausedUntil.map { now < $0 } ?? false
        if let current = uploadsPausedUntil, alreadyPaused, current >= resumeTime { return }
        uploadsPausedUntil = resumeTime
        if !alreadyPaused {
            logger.warning("server asked to wait: no new uploads until \(resumeTime)",
                           metadata: ["pause.until": "\(resumeTime)", "error": "\(problem)"])
        }
    }
}

extension EventForwarder {
    /// An upload that came back, with what adaptive concurrency needs to learn from it.
    struct FinishedUpload {
        var candidate: UploadCandidate
        var prepared: PreparedUpload
        var outcome: UploadOutcome
        var roundTrip: Duration
        var ticket: ConcurrencyLimit.Ticket
    }

    /// Uploads in flight allowed now; `uploadConcurrency` when adaptive concurrency is off.
    public var currentConcurrencyLimit: Int { concurrencyLimit.current }

    /// Lets the limit learn from a finished upload, and logs when it changes (not per upload).
    func adaptConcurrency(to finished: FinishedUpload) {
        let signal = ConcurrencyLimit.Signal(finished.outcome, roundTrip: finished.roundTrip)
        guard let change = concurrencyLimit.uploadFinished(finished.ticket, signal: signal) else { return }
        var metadata: Logger.Metadata = ["concurrency.limit": "\(change.limit)",
                                         "concurrency.maximum": "\(uploadConcurrency)"]
        if let mean = concurrencyLimit.meanRoundTrip {
            metadata["concurrency.mean_round_trip_ms"] = "\(mean.wholeNanoseconds / 1_000_000)"
        }
        if case .raised = change {
            logger.info("\(change)", metadata: metadata)
        } else {
            logger.warning("\(change)", metadata: metadata)
        }
    }
}

extension EventForwarder {
    /// Keeps the circuit breaker's count in the state, so that a restart against a dead server
    /// sends one probe rather than a whole window of uploads.
    ///
    /// The count is stored up to the threshold only: once the circuit is open, each failed
    /// probe would write the same verdict again, and an accepted upload with the count already
    /// at zero writes nothing.
    func recordCircuitBreaker() throws {
        let count = min(consecutiveFailures, retryPolicy.circuitBreakerFailures)
        guard count != store.consecutiveFailures else { return }
        let store = self.store
        do { try store.recordConsecutiveFailures(count) } catch { try keepStateFailure(error) }
    }
}

extension EventForwarder {
    /// The server answers again after the circuit was open: events that failed only for want
    /// of a server are due at once (`RetryPlanner.releasedOnRecovery`), at the next pass.
    func releaseBackoffsOnRecovery() throws {
        let now = clock.now()
        var released = 0
        for attempts in store.allAttempts() {
            guard let due = RetryPlanner.releasedOnRecovery(attempts, now: now) else { continue }
            try store.recordAttempts(due)
            released += 1
        }
        guard released > 0 else { return }
        logger.info("the server answers again: \(released) events that failed while it was down are due at the next pass",
                    metadata: ["retry.released": "\(released)"])
    }
}
