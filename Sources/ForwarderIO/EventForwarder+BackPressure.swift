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
