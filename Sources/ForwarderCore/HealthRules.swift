/// What `/health` decides from: the forwarder's last pass, its circuit and its state, at one moment.
public struct HealthSnapshot: Hashable, Sendable {
    public var now: FileTime
    /// When the process started serving; before a first pass, its age stands in for the pass's.
    public var startedAt: FileTime
    public var lastPassFinishedAt: FileTime?
    public var passInterval: Duration
    public var circuitOpen: Bool
    /// Whether the last state write or sync succeeded.
    public var stateWritable: Bool

    public init(now: FileTime, startedAt: FileTime, lastPassFinishedAt: FileTime?, passInterval: Duration,
                circuitOpen: Bool, stateWritable: Bool) {
        self.now = now
        self.startedAt = startedAt
        self.lastPassFinishedAt = lastPassFinishedAt
        self.passInterval = passInterval
        self.circuitOpen = circuitOpen
        self.stateWritable = stateWritable
    }
}

/// The `/health` verdict and its JSON body.
public struct HealthReport: Hashable, Sendable, Codable {
    /// `ok` or `unhealthy`.
    public var status: String
    /// Why it is unhealthy, one sentence each; empty when healthy.
    public var reasons: [String]
    /// Seconds since the last pass finished, or nil before the first pass.
    public var lastPassAgeSeconds: Double?
    /// The longest a pass may be ago before the forwarder counts as stuck.
    public var maximumPassAgeSeconds: Double
    public var circuitOpen: Bool
    public var stateWritable: Bool

    public var isHealthy: Bool { reasons.isEmpty }

    enum CodingKeys: String, CodingKey {
        case status, reasons
        case lastPassAgeSeconds = "last_pass_age_seconds"
        case maximumPassAgeSeconds = "maximum_pass_age_seconds"
        case circuitOpen = "circuit_open"
        case stateWritable = "state_writable"
    }
}

/// Decides whether the forwarder is healthy: a pass finished within three pass intervals, the
/// circuit is closed and the state is writable.
///
/// Three intervals let one slow pass (a backfill at its cap) through without a false alarm,
/// while a loop that has stopped passing shows within minutes.
public enum HealthRules {
    /// How many pass intervals may go by without a finished pass.
    public static let passIntervalsAllowed = 3

    public static func assess(_ snapshot: HealthSnapshot) -> HealthReport {
        let allowed = snapshot.passInterval * passIntervalsAllowed
        var reasons: [String] = []
        let passAge = snapshot.lastPassFinishedAt.map { snapshot.now - $0 }
        if let passAge {
            if passAge > allowed {
                reasons.append("the last pass finished \(seconds(passAge)) s ago, more than \(passIntervalsAllowed) "
                    + "pass intervals (\(seconds(allowed)) s)")
            }
        } else if snapshot.now - snapshot.startedAt > allowed {
            reasons.append("no pass has finished since the start \(seconds(snapshot.now - snapshot.startedAt)) s ago, "
                + "more than \(passIntervalsAllowed) pass intervals (\(seconds(allowed)) s)")
        }
        if snapshot.circuitOpen {
            reasons.append("the circuit is open: the server looks down, passes only probe it")
        }
        if !snapshot.stateWritable {
            reasons.append("the state is not writable: the last state write or sync failed")
        }
        return HealthReport(status: reasons.isEmpty ? "ok" : "unhealthy", reasons: reasons,
                            lastPassAgeSeconds: passAge.map(\.secondsValue), maximumPassAgeSeconds: allowed.secondsValue,
                            circuitOpen: snapshot.circuitOpen, stateWritable: snapshot.stateWritable)
    }

    /// Seconds with at most three decimals, for messages.
    private static func seconds(_ duration: Duration) -> String {
        let value = (duration.secondsValue * 1000).rounded() / 1000
        return value == value.rounded() ? "\(Int(value))" : "\(value)"
    }
}
