import ForwarderCore
import Foundation

/// The fleet's output as text: a per-minute table and a summary.
public enum FleetReport {
    /// One row per busy step (refusals, refused connections, a backlog of 10 or more, 30
    /// requests a minute or more); each run of quiet steps collapses into one line, which says
    /// when it spans the outage or the slow period.
    public static func table(_ timeline: FleetTimeline, day: FleetDay) -> [String] {
        var lines = ["  time      requests/s  in progress  429/503  down  backlog"]
        var quietFrom: Int?
        var quietRequests = 0
        var quietBacklog = 0
        var quietNotes: Set<String> = []
        func clock(_ index: Int) -> String { label(timeline.step * index) }
        func notes(_ index: Int) -> [String] {
            let time = timeline.start + timeline.step * index
            let span = time..<(time + timeline.step)
            return (day.outage.overlaps(span) ? ["outage"] : []) + (day.slowPeriod.overlaps(span) ? ["slow server"] : [])
        }
        func flushQuiet(before index: Int) {
            guard let from = quietFrom else { return }
            let during = quietNotes.isEmpty ? "" : " (" + quietNotes.sorted().joined(separator: ", ") + ")"
            lines.append("  \(clock(from))–\(clock(index)) quiet\(during): \(quietRequests) requests, backlog at most \(quietBacklog)")
            quietFrom = nil
            quietRequests = 0
            quietBacklog = 0
            quietNotes = []
        }
        for step in timeline.steps {
            let busy = step.refused > 0 || step.unreachable > 0 || step.backlog >= 10 || step.requestsPerSecond * 60 >= 30
            if busy {
                flushQuiet(before: step.index)
                lines.append("  " + clock(step.index) + pad(BenchFormat.decimal(step.requestsPerSecond, places: 2), 12)
                    + pad("\(step.maximumInProgress)", 13) + pad("\(step.refused)", 9) + pad("\(step.unreachable)", 6)
                    + pad("\(step.backlog)", 9) + notes(step.index).map { "  " + $0 }.joined())
            } else {
                if quietFrom == nil { quietFrom = step.index }
                quietRequests += step.requests
                quietBacklog = max(quietBacklog, step.backlog)
                quietNotes.formUnion(notes(step.index))
            }
        }
        flushQuiet(before: timeline.steps.count)
        return lines
    }

    /// `hh:mm:ss` since the day's start (past 24 h: `+1d hh:mm:ss`).
    static func label(_ offset: Duration) -> String {
        let seconds = Int(offset.secondsValue.rounded(.down))
        let days = seconds / 86_400, hours = (seconds % 86_400) / 3600, minutes = (seconds % 3600) / 60
        return (days > 0 ? "+\(days)d " : "") + String(format: "%02d:%02d:%02d", hours, minutes, seconds % 60)
    }

    static func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(1, width - text.count)) + text
    }

    /// The drains, the server's figures and each checker's verdict.
    public static func summary(_ evidence: FleetEvidence) -> [String] {
        let served = evidence.journal.filter { if case .served = $0.answer { true } else { false } }.count
        let refused = evidence.journal.filter(\.isRefusal).count
        let unreachable = evidence.journal.filter { !$0.reachedServer }.count
        let events = evidence.pcs.reduce(0) { $0 + $1.manifest.count }
        let maximum = FleetChecker.maximumInProgress(evidence.journal).count
        var lines = [
            "events: \(events) on \(evidence.pcs.count) PCs (\(evidence.pcs.filter(\.hasBacklog).count) with a backlog at the start)",
            "server: capacity \(BenchFormat.decimal(evidence.capacityPerSecond, places: 2)) requests/s "
                + "(\(evidence.capacity.maximumInProgress) in progress), \(served) served, \(refused) refused, "
                + "\(unreachable) refused connections during the outage, at most \(maximum) in progress",
        ]
        for drain in FleetChecker.drains(evidence) where drain.events > 0 {
            let times = drain.perPC.values.sorted()
            let median = times.isEmpty ? Duration.zero : times[(times.count - 1) / 2]
            lines.append("\(drain.name): \(drain.events) events drained in "
                + (drain.fleet.map { "\(Int($0.secondsValue)) s" } ?? "never")
                + " (allowed \(Int(FleetChecker.drainAllowance(drain, evidence: evidence).secondsValue)) s at the "
                + "\(BenchFormat.decimal(FleetChecker.deliveredCapacityPerSecond(drain, evidence: evidence), places: 2)) "
                + "requests/s the server delivered); "
                + "per PC median \(Int(median.secondsValue)) s, slowest \(Int((times.last ?? .zero).secondsValue)) s")
        }
        let window = evidence.recoveryWindow.secondsValue
        lines.append("first \(Int(window)) s after the outage: \(FleetChecker.requestsAfterRecovery(evidence)) requests "
            + "(capacity \(Int(evidence.capacityPerSecond * window)))")
        return lines
    }
}
