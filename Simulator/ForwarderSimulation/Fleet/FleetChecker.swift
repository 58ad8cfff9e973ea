import ForwarderCore
import Foundation

/// What the fleet's judges look at: the generator's manifests (the truth), the server's journal
/// and store (what arrived), and each forwarder's recorded digests (what it kept).
///
/// Built the same way in the simulated and the live world, so both are judged alike.
public struct FleetEvidence: Sendable {
    public struct PC: Sendable {
        public var manifest: [ManifestEntry]
        public var hasBacklog: Bool

        public init(manifest: [ManifestEntry], hasBacklog: Bool) {
            self.manifest = manifest
            self.hasBacklog = hasBacklog
        }
    }

    public var pcs: [PC]
    public var journal: [FleetRequest]
    public var storedEvents: [StoredEvent]
    public var recordedDigests: [[EventDigest]]
    public var day: FleetDay
    public var capacity: FleetServerCapacity
    /// What a drain may take beyond the capacity's share: a forwarder sees a file only at its
    /// next pass, after the file settled, and a backed-off event waits about one pass more.
    public var settleAllowance: Duration
    /// The time after the outage in which the fleet's rate is held to the capacity (a minute
    /// on the simulated day, less in the compressed live world).
    public var recoveryWindow: Duration
    public var endedAt: FileTime

    public init(pcs: [PC], journal: [FleetRequest], storedEvents: [StoredEvent], recordedDigests: [[EventDigest]],
                day: FleetDay, capacity: FleetServerCapacity, settleAllowance: Duration,
                recoveryWindow: Duration = .seconds(60), endedAt: FileTime) {
        self.pcs = pcs
        self.journal = journal
        self.storedEvents = storedEvents
        self.recordedDigests = recordedDigests
        self.day = day
        self.capacity = capacity
        self.settleAllowance = settleAllowance
        self.recoveryWindow = recoveryWindow
        self.endedAt = endedAt
    }

    /// When the server first stored each binary (by digest): the finish of the first served
    /// request that stored it.
    public var firstStoredAt: [EventDigest: FileTime] {
        var stored: [EventDigest: FileTime] = [:]
        for request in journal where request.stored {
            guard case .served(_, let finishedAt, _) = request.answer else { continue }
            stored[request.binaryDigest] = min(stored[request.binaryDigest] ?? finishedAt, finishedAt)
        }
        return stored
    }

    /// The server's requests a second at full load, for requests of the size it was sent.
    public var capacityPerSecond: Double {
        let served = journal.filter { if case .served = $0.answer { true } else { false } }
        let meanByteCount = served.isEmpty ? 0 : Double(served.reduce(0) { $0 + $1.byteCount }) / Double(served.count)
        return capacity.requestsPerSecond(meanByteCount: meanByteCount)
    }
}

/// The fleet's rules, judged from the evidence only: never from the forwarder's own rules.
public enum FleetChecker {
    /// Refused requests may be at most this share of accepted ones: a fleet that listens to
    /// `Retry-After` and adapts its concurrency meets a refusal now and then while it probes
    /// for the server's limit, not on every other request.
    public static let maximumRefusedShare = 0.05
    /// After an outage the fleet's first minute stays within this multiple of the capacity.
    public static let recoveryRateFactor = 1.5
    /// The slowest PC drains within this multiple of the median PC's time.
    public static let starvationFactor = 2.0
    /// The fleet drains within this multiple of what the capacity allows.
    public static let drainFactor = 1.5

    public static func check(_ evidence: FleetEvidence) -> [CheckerViolation] {
        everyEventOnce(evidence) + recordedOnlyAccepted(evidence) + inProgressWithinLimit(evidence)
            + recoveryRate(evidence) + noStarvation(evidence) + drainTime(evidence) + refusals(evidence)
    }

    private static func violation(_ rule: String, _ detail: String) -> CheckerViolation {
        CheckerViolation(rule: rule, pass: nil, detail: detail)
    }

    /// Every event at the server (with its report when it has one); a binary sent again only
    /// after a request the server served was not seen accepted by the forwarder (at-least-once).
    public static func everyEventOnce(_ evidence: FleetEvidence) -> [CheckerViolation] {
        var violations: [CheckerViolation] = []
        let storedByName = Dictionary(evidence.storedEvents.map { ($0.binaryName, $0) }, uniquingKeysWith: { first, _ in first })
        var missing: [String] = []
        var withoutReport: [String] = []
        for (index, pc) in evidence.pcs.enumerated() {
            for entry in pc.manifest {
                guard let stored = storedByName[entry.binary] else {
                    missing.append("\(entry.binary) of PC \(index)")
                    continue
                }
                if entry.report != nil, stored.reportName == nil { withoutReport.append("\(entry.binary) of PC \(index)") }
            }
        }
        if let first = missing.first {
            violations.append(violation("lost", "\(missing.count) events never reached the server, e.g. \(first)"))
        }
        if let first = withoutReport.first {
            violations.append(violation("late-report", "\(withoutReport.count) events are stored without their report, e.g. \(first)"))
        }
        var servedUnseen: Set<EventDigest> = []
        var unexplained: [FleetRequest] = []
        for request in evidence.journal {
            guard case .served(_, _, let status) = request.answer, status == 200 else { continue }
            if request.alreadyHeld, !servedUnseen.contains(request.binaryDigest) { unexplained.append(request) }
            if !(request.clientOutcome?.isAccepted ?? false) { servedUnseen.insert(request.binaryDigest) }
        }
        if let first = unexplained.first {
            violations.append(violation("exactly-once", "\(unexplained.count) uploads re-sent a binary the server held and "
                + "the forwarder had seen accepted, e.g. \(first.binaryName) from PC \(first.pc) at \(first.arrivedAt)"))
        }
        return violations
    }

    /// Each PC's state holds only binaries the server answered 200 for, to that PC.
    public static func recordedOnlyAccepted(_ evidence: FleetEvidence) -> [CheckerViolation] {
        var accepted: [Int: Set<EventDigest>] = [:]
        for request in evidence.journal {
            guard case .served(_, _, let status) = request.answer, status == 200 else { continue }
            accepted[request.pc, default: []].insert(request.binaryDigest)
        }
        var violations: [CheckerViolation] = []
        for (pc, digests) in evidence.recordedDigests.enumerated() {
            let unaccepted = digests.filter { !(accepted[pc]?.contains($0) ?? false) }
            if let first = unaccepted.first {
                violations.append(violation("recorded-unaccepted", "PC \(pc) recorded \(unaccepted.count) binaries the "
                    + "server never accepted from it, e.g. \(first.hex.prefix(16))"))
            }
        }
        return violations
    }

    /// The largest number of requests the server's journal shows in progress at one moment.
    public static func maximumInProgress(_ journal: [FleetRequest]) -> (count: Int, at: FileTime?) {
        var changes: [(FileTime, Int)] = []
        for request in journal {
            guard case .served(let startedAt, let finishedAt, _) = request.answer else { continue }
            changes.append((startedAt, 1))
            changes.append((finishedAt, -1))
        }
        // A request that ends at the moment another starts frees its slot first.
        changes.sort { ($0.0, $0.1) < ($1.0, $1.1) }
        var current = 0
        var maximum = (count: 0, at: FileTime?.none)
        for (time, change) in changes {
            current += change
            if current > maximum.count { maximum = (current, time) }
        }
        return maximum
    }

    /// Never more requests in progress than the server's limit.
    public static func inProgressWithinLimit(_ evidence: FleetEvidence) -> [CheckerViolation] {
        let maximum = maximumInProgress(evidence.journal)
        guard maximum.count > evidence.capacity.maximumInProgress else { return [] }
        return [violation("in-progress", "\(maximum.count) requests in progress at \(maximum.at.map { "\($0)" } ?? "?"), "
            + "the limit is \(evidence.capacity.maximumInProgress)")]
    }

    /// Requests that reached the server in the recovery window after the outage.
    public static func requestsAfterRecovery(_ evidence: FleetEvidence) -> Int {
        let recovery = evidence.day.outage.upperBound
        let window = recovery..<(recovery + evidence.recoveryWindow)
        return evidence.journal.filter { $0.reachedServer && window.contains($0.arrivedAt) }.count
    }

    /// In the first minute after the outage the fleet sends at most 1.5× what the server can serve.
    public static func recoveryRate(_ evidence: FleetEvidence) -> [CheckerViolation] {
        let requests = requestsAfterRecovery(evidence)
        let seconds = evidence.recoveryWindow.secondsValue
        let limit = recoveryRateFactor * evidence.capacityPerSecond * seconds
        guard Double(requests) > limit else { return [] }
        return [violation("recovery-rate", "\(requests) requests in the \(Int(seconds)) s after the outage, more than "
            + "\(recoveryRateFactor)× the server's capacity of \(Int(evidence.capacityPerSecond * seconds))")]
    }

    /// One drain: from `start`, the events written by `cutoff` and not stored before `start`,
    /// and when each PC, and the fleet, had them all at the server.
    public struct Drain: Sendable {
        public var name: String
        public var start: FileTime
        public var perPC: [Int: Duration]
        public var events: Int
        public var fleet: Duration?
    }

    /// The drain of the start backlog (backlog PCs' events written before the day) and of the
    /// outage (every PC's events written before the server came back and not sent before it went).
    public static func drains(_ evidence: FleetEvidence) -> [Drain] {
        let storedAt = evidence.firstStoredAt
        func drain(_ name: String, start: FileTime, cutoff: FileTime, pcs: [Int]) -> Drain {
            var perPC: [Int: Duration] = [:]
            var events = 0
            var fleetEnd: FileTime?
            var unfinished = false
            for pc in pcs {
                var last: FileTime?
                for entry in evidence.pcs[pc].manifest where entry.binaryModificationTime <= cutoff {
                    guard let digest = entry.digest else { continue }
                    guard let stored = storedAt[digest] else {
                        unfinished = true
                        continue
                    }
                    guard stored >= start else { continue }
                    events += 1
                    last = max(last ?? stored, stored)
                }
                if let last {
                    perPC[pc] = last - start
                    fleetEnd = max(fleetEnd ?? last, last)
                }
            }
            return Drain(name: name, start: start, perPC: perPC, events: events,
                         fleet: unfinished ? nil : fleetEnd.map { $0 - start })
        }
        let backlogPCs = evidence.pcs.indices.filter { evidence.pcs[$0].hasBacklog }
        return [drain("start backlog", start: evidence.day.start, cutoff: evidence.day.start, pcs: backlogPCs),
                drain("outage", start: evidence.day.outage.lowerBound, cutoff: evidence.day.outage.upperBound,
                      pcs: Array(evidence.pcs.indices))]
    }

    /// The slowest PC's drain takes at most twice the median PC's, plus the settle allowance (a
    /// PC sees its work only at its passes, so one refused upload can cost it a pass interval
    /// that says nothing about sharing).
    public static func noStarvation(_ evidence: FleetEvidence) -> [CheckerViolation] {
        drains(evidence).compactMap { drain -> CheckerViolation? in
            let times = drain.perPC.sorted { ($0.value, $0.key) < ($1.value, $1.key) }
            guard times.count >= 2, let slowest = times.last else { return nil }
            let median = times[(times.count - 1) / 2].value
            guard slowest.value > median * starvationFactor + evidence.settleAllowance else { return nil }
            return violation("starvation", "\(drain.name): PC \(slowest.key) took \(Int(slowest.value.secondsValue)) s to "
                + "drain, more than \(starvationFactor)× the median PC's \(Int(median.secondsValue)) s "
                + "plus \(Int(evidence.settleAllowance.secondsValue)) s")
        }
    }

    /// What the capacity allows for a drain: 1.5 × (its events at the rate the server delivered
    /// in it, plus the outage when the drain starts with one), plus the settle allowance.
    public static func drainAllowance(_ drain: Drain, evidence: FleetEvidence) -> Duration {
        let outage = drain.start == evidence.day.outage.lowerBound ? evidence.day.outageDuration : .zero
        let work = Duration.seconds(Double(drain.events) / max(deliveredCapacityPerSecond(drain, evidence: evidence), 1e-9))
        return (work + outage) * drainFactor + evidence.settleAllowance
    }

    /// The requests a second the server delivered during a drain: its capacity, scaled by how
    /// much longer the requests it served then took than they would at full speed, from the
    /// start of their service until the forwarder had the answer.
    ///
    /// A drain is judged by what the fleet could use. In the slow period the server serves at a
    /// fraction of its speed, and on a loaded machine (the live world beside other work) its
    /// answers, and the forwarders' reading of them, come late; neither is the fleet's doing,
    /// and a drain that ran into them was once failed for them (docs/DECISIONS.md, "The live
    /// fleet on a loaded machine"). Outside the slow period the simulated server delivers its
    /// capacity exactly; faster than the capacity it never counts.
    public static func deliveredCapacityPerSecond(_ drain: Drain, evidence: FleetEvidence) -> Double {
        let end = drain.start + (drain.fleet ?? (evidence.endedAt - drain.start))
        var atFullSpeed = Duration.zero
        var taken = Duration.zero
        for request in evidence.journal {
            guard case .served(let startedAt, let finishedAt, _) = request.answer,
                  startedAt >= drain.start, startedAt <= end else { continue }
            atFullSpeed += evidence.capacity.serviceTime(byteCount: request.byteCount)
            taken += max(finishedAt, request.outcomeSeenAt ?? finishedAt) - startedAt
        }
        guard taken > .zero else { return evidence.capacityPerSecond }
        return evidence.capacityPerSecond * min(1, atFullSpeed / taken)
    }

    /// The fleet drains each backlog within 1.5× of what the server's capacity allows.
    public static func drainTime(_ evidence: FleetEvidence) -> [CheckerViolation] {
        drains(evidence).compactMap { drain -> CheckerViolation? in
            guard drain.events > 0 else { return nil }
            let allowance = drainAllowance(drain, evidence: evidence)
            guard let fleet = drain.fleet else {
                return violation("drain", "\(drain.name): the fleet never drained it")
            }
            guard fleet > allowance else { return nil }
            return violation("drain", "\(drain.name): \(drain.events) events took \(Int(fleet.secondsValue)) s, more than "
                + "the \(Int(allowance.secondsValue)) s the capacity allows (\(drainFactor)× (events ÷ the "
                + "\(BenchFormat.decimal(deliveredCapacityPerSecond(drain, evidence: evidence), places: 1)) requests/s delivered "
                + "+ the outage), "
                + "plus \(Int(evidence.settleAllowance.secondsValue)) s to settle)")
        }
    }

    /// Refused requests stay a small share of accepted ones.
    public static func refusals(_ evidence: FleetEvidence) -> [CheckerViolation] {
        let refused = evidence.journal.filter(\.isRefusal).count
        let accepted = evidence.journal.filter { if case .served(_, _, 200) = $0.answer { true } else { false } }.count
        guard Double(refused) > maximumRefusedShare * Double(max(accepted, 1)) else { return [] }
        return [violation("refusals", "\(refused) requests refused for capacity against \(accepted) accepted, more than "
            + "\(Int(maximumRefusedShare * 100)) %")]
    }
}
