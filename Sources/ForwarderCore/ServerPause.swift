/// Decides when the server asked the whole forwarder, not one event, to hold its uploads.
///
/// A `429 Too Many Requests` or `503 Service Unavailable` with a `Retry-After` is the server
/// saying it is overloaded or in maintenance: every upload started before the time it named
/// would be refused too, and a fleet that kept sending would keep it overloaded. The event that
/// met the answer still backs off on its own (`RetryPlanner`).
public enum ServerPause {
    /// The time before which no new upload should start after `problem`, or nil when it asks
    /// for no pause (another status, no `Retry-After`, or a time already past).
    ///
    /// The wait is cut to `RetryPolicy.longestRetryAfter`, as an event's own backoff is, so one
    /// odd header cannot stop the forwarder for longer than a day.
    public static func resumeTime(after problem: UploadProblem, now: FileTime) -> FileTime? {
        guard case .httpStatus(let status) = problem.kind, status == 429 || status == 503,
              let retryAfter = problem.retryAfter else { return nil }
        let wait = retryAfter.wait(from: now, longest: RetryPolicy.longestRetryAfter)
        return wait > .zero ? now + wait : nil
    }
}
