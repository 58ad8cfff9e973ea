import ForwarderCore
import Foundation

/// The mock server's workers as a schedule: each request admitted gets a slot, a start and a
/// finish at the moment it arrives, or is refused.
///
/// It has no clock: every call takes the time, so the simulated world drives it with simulated
/// time and the socket server with the wall clock, and both get the same answers. Service times
/// are known when a request arrives (a time per request plus a time per megabyte), so a
/// first-come-first-served queue over `maximumInProgress` slots can be scheduled at admission:
/// nothing has to be reported back when a request finishes, and a client that gives up does
/// not free its slot early (a real server keeps working on a request whose client left).
///
/// Times passed in never go backwards: an earlier time than one already seen counts as the
/// latest seen (concurrent socket handlers may read the clock out of order by microseconds).
/// Nothing is drawn at random.
public struct CapacityModel: Sendable {
    public private(set) var plan: CapacityPlan
    /// When each slot is next free, in nanoseconds since 1970.
    private var slotFreeAt: [Int64]
    /// Starts not yet reached by `flush`, in time order (admission order is start order).
    private var pendingStarts: [PendingStart] = []
    private var pendingStartsHead = 0
    /// Finishes not yet reached by `flush`, latest first so the next one is `last`.
    private var pendingFinishes: [Int64] = []
    /// The latest time seen, in nanoseconds since 1970.
    private var latestTime: Int64 = .min
    /// Requests in progress and waiting as of `latestTime`.
    private var inProgress = 0
    private var waiting = 0
    private var counters: CapacityStats
    /// How many seconds of the time series are kept (the newest).
    public let seriesSecondLimit: Int

    private struct PendingStart: Sendable {
        var time: Int64
        var waited: Bool
        /// False for a zero service time: it starts and finishes at once and is never in progress.
        var occupiesSlot: Bool
    }

    public init(plan: CapacityPlan, seriesSecondLimit: Int = 86_400) {
        self.plan = plan
        slotFreeAt = Array(repeating: .min, count: max(1, plan.maximumInProgress))
        counters = CapacityStats(plan: plan)
        self.seriesSecondLimit = max(1, seriesSecondLimit)
    }

    /// Decides what becomes of a request whose body of `byteCount` bytes is complete at
    /// `arrivalAt`: served in a slot (at once or after waiting its turn) or refused.
    public mutating func admit(arrivalAt: FileTime, byteCount: Int) -> CapacityDecision {
        let now = advanceClock(to: arrivalAt)
        flush(through: now)
        counters.arrived += 1
        updateSecond(at: now) { $0.arrived += 1 }

        let slotIndex = slotFreeAt.indices.min { slotFreeAt[$0] < slotFreeAt[$1] } ?? 0
        let slotFreeTime = slotFreeAt[slotIndex]
        if slotFreeTime > now {
            switch plan.overCapacity {
            case .tooManyRequests:
                return .refuse(refuse(429, at: now, reason: "over capacity: \(inProgress) of \(plan.maximumInProgress) in progress"))
            case .serviceUnavailable:
                return .refuse(refuse(503, at: now, reason: "over capacity: \(inProgress) of \(plan.maximumInProgress) in progress"))
            case .queue:
                if let queueLimit = plan.queueLimit, waiting >= queueLimit {
                    return .refuse(refuse(plan.queueFullStatus, at: now,
                                          reason: "over capacity: queue full with \(waiting) requests waiting"))
                }
            }
        }

        let start = max(now, slotFreeTime)
        let finish = start + plan.serviceTime(byteCount: byteCount).wholeNanoseconds
        slotFreeAt[slotIndex] = finish
        let waitingAhead = waiting
        let waits = start > now
        if waits {
            waiting += 1
            counters.queued += 1
            counters.maximumWaiting = max(counters.maximumWaiting, waiting)
            let waitingNow = waiting
            updateSecond(at: now) { $0.maximumWaiting = max($0.maximumWaiting, waitingNow) }
        }
        pendingStarts.append(PendingStart(time: start, waited: waits, occupiesSlot: finish > start))
        if finish > start { insertPendingFinish(finish) }
        counters.admitted += 1
        let queueMilliseconds = Double(start - now) / 1e6
        counters.totalQueueMilliseconds += queueMilliseconds
        counters.maximumQueueMilliseconds = max(counters.maximumQueueMilliseconds, queueMilliseconds)
        counters.totalServiceMilliseconds += Double(finish - start) / 1e6
        flush(through: now)
        return .serve(CapacitySlot(arrivalAt: FileTime(nanosecondsSince1970: now),
                                   startAt: FileTime(nanosecondsSince1970: start),
                                   finishAt: FileTime(nanosecondsSince1970: finish), waitingAhead: waitingAhead))
    }

    /// The counters and time series with everything up to `time` played out.
    public mutating func stats(through time: FileTime) -> CapacityStats {
        flush(through: advanceClock(to: time))
        return stats
    }

    /// The counters and time series as of the latest time seen.
    public var stats: CapacityStats {
        var stats = counters
        stats.inProgress = inProgress
        stats.waiting = waiting
        return stats
    }

    /// Serves new requests by `plan` from `time` on; requests already admitted keep their
    /// schedule. With fewer slots, the ones busy longest are retired, so requests already in
    /// progress may exceed the new limit until they finish.
    public mutating func replacePlan(_ plan: CapacityPlan, at time: FileTime) {
        flush(through: advanceClock(to: time))
        let slotCount = max(1, plan.maximumInProgress)
        if slotCount > slotFreeAt.count {
            slotFreeAt += Array(repeating: latestTime, count: slotCount - slotFreeAt.count)
        } else {
            slotFreeAt = Array(slotFreeAt.sorted().prefix(slotCount))
        }
        self.plan = plan
        counters.plan = plan
    }

    // MARK: Playing out the schedule

    private mutating func advanceClock(to time: FileTime) -> Int64 {
        latestTime = max(latestTime, time.nanosecondsSince1970)
        return latestTime
    }

    private mutating func refuse(_ status: Int, at now: Int64, reason: String) -> CapacityRefusal {
        counters.refused += 1
        counters.refusedByStatus[String(status), default: 0] += 1
        updateSecond(at: now) { $0.refused += 1 }
        return CapacityRefusal(status: status, retryAfter: plan.retryAfterValue(refusedAt: FileTime(nanosecondsSince1970: now)),
                               reason: reason)
    }

    /// Plays out every start and finish up to `time`, in time order; at equal times finishes
    /// come first, so a slot handed from one request to the next never counts twice.
    private mutating func flush(through time: Int64) {
        while true {
            let nextStart = pendingStartsHead < pendingStarts.count ? pendingStarts[pendingStartsHead] : nil
            if let finish = pendingFinishes.last, finish <= time, finish <= nextStart?.time ?? .max {
                pendingFinishes.removeLast()
                updateSecond(at: finish) { $0.finished += 1 }
                inProgress -= 1
            } else if let nextStart, nextStart.time <= time {
                pendingStartsHead += 1
                updateSecond(at: nextStart.time) { $0.started += 1 }
                if nextStart.waited { waiting -= 1 }
                if nextStart.occupiesSlot {
                    inProgress += 1
                    counters.maximumInProgress = max(counters.maximumInProgress, inProgress)
                    let inProgressNow = inProgress
                    updateSecond(at: nextStart.time) { $0.maximumInProgress = max($0.maximumInProgress, inProgressNow) }
                }
            } else {
                break
            }
        }
        if pendingStartsHead > 1024, pendingStartsHead * 2 > pendingStarts.count {
            pendingStarts.removeFirst(pendingStartsHead)
            pendingStartsHead = 0
        }
    }

    private mutating func insertPendingFinish(_ finish: Int64) {
        var low = 0
        var high = pendingFinishes.count
        while low < high {
            let middle = (low + high) / 2
            if pendingFinishes[middle] > finish { low = middle + 1 } else { high = middle }
        }
        pendingFinishes.insert(finish, at: low)
    }

    /// Applies `change` to the second holding `time`, first opening every second since the
    /// last one that had work in progress or waiting, with what it carried in. Called before
    /// an event changes the counts, so the seconds it opens start with the state before it.
    private mutating func updateSecond(at time: Int64, _ change: (inout CapacitySecond) -> Void) {
        let second = time >= 0 ? time / 1_000_000_000 : -((-time + 999_999_999) / 1_000_000_000)
        if let last = counters.seconds.last, last.second >= second {
            change(&counters.seconds[counters.seconds.count - 1])
            return
        }
        if let last = counters.seconds.last, inProgress > 0 || waiting > 0 {
            let firstGap = max(last.second + 1, second - Int64(seriesSecondLimit))
            for gap in stride(from: firstGap, to: second, by: 1) {
                counters.seconds.append(CapacitySecond(second: gap, maximumInProgress: inProgress, maximumWaiting: waiting))
            }
        }
        var opened = CapacitySecond(second: second, maximumInProgress: inProgress, maximumWaiting: waiting)
        change(&opened)
        counters.seconds.append(opened)
        if counters.seconds.count > seriesSecondLimit + seriesSecondLimit / 8 {
            counters.seconds.removeFirst(counters.seconds.count - seriesSecondLimit)
        }
    }
}

/// What becomes of one request.
public enum CapacityDecision: Hashable, Sendable {
    case serve(CapacitySlot)
    case refuse(CapacityRefusal)
}

/// When an admitted request holds a slot: from `startAt` (after waiting its turn) to `finishAt`.
public struct CapacitySlot: Hashable, Sendable {
    /// When the request was complete and asked for a slot.
    public var arrivalAt: FileTime
    public var startAt: FileTime
    public var finishAt: FileTime
    /// Requests admitted earlier and still waiting when this one arrived.
    public var waitingAhead: Int

    public init(arrivalAt: FileTime, startAt: FileTime, finishAt: FileTime, waitingAhead: Int) {
        self.arrivalAt = arrivalAt
        self.startAt = startAt
        self.finishAt = finishAt
        self.waitingAhead = waitingAhead
    }

    public var queueTime: Duration { startAt - arrivalAt }
    public var serviceTime: Duration { finishAt - startAt }
}

/// A request refused over capacity: the status to answer and its `Retry-After`.
public struct CapacityRefusal: Hashable, Sendable {
    /// 429 or 503.
    public var status: Int
    /// The `Retry-After` header's value, when the plan gives one.
    public var retryAfter: String?
    /// Why, for the reply's `detail` and the journal.
    public var reason: String

    public init(status: Int, retryAfter: String?, reason: String) {
        self.status = status
        self.retryAfter = retryAfter
        self.reason = reason
    }

    /// The reply's header fields: JSON content type and `Retry-After` when given.
    public var headers: [MockHeader] {
        [MockHeader("Content-Type", "application/json")] + (retryAfter.map { [MockHeader("Retry-After", $0)] } ?? [])
    }
}

/// What the capacity model saw: admissions, waits, refusals and a per-second series.
public struct CapacityStats: Hashable, Sendable, Codable {
    public var plan: CapacityPlan
    /// Requests that asked for a slot.
    public var arrived = 0
    /// Requests given a slot, at once or after waiting.
    public var admitted = 0
    /// Admitted requests that had to wait for their slot.
    public var queued = 0
    public var refused = 0
    /// Refusals by HTTP status ("429", "503").
    public var refusedByStatus: [String: Int] = [:]
    /// In progress and waiting at the time of the snapshot.
    public var inProgress = 0
    public var waiting = 0
    public var maximumInProgress = 0
    public var maximumWaiting = 0
    public var totalQueueMilliseconds = 0.0
    public var maximumQueueMilliseconds = 0.0
    public var totalServiceMilliseconds = 0.0
    /// One entry per second that had arrivals or work in progress or waiting (the newest
    /// `seriesSecondLimit`), oldest first.
    public var seconds: [CapacitySecond] = []

    public init(plan: CapacityPlan) { self.plan = plan }
}

/// One second of the capacity model's time series.
public struct CapacitySecond: Hashable, Sendable, Codable {
    /// Whole seconds since 1970 (UTC) at the start of this second.
    public var second: Int64
    /// Requests that asked for a slot in this second.
    public var arrived = 0
    /// Requests whose service started in this second.
    public var started = 0
    /// Requests whose service ended in this second.
    public var finished = 0
    /// Requests refused over capacity in this second.
    public var refused = 0
    /// The most requests in progress at any moment of this second.
    public var maximumInProgress = 0
    /// The most requests waiting for a slot at any moment of this second.
    public var maximumWaiting = 0

    public init(second: Int64, arrived: Int = 0, started: Int = 0, finished: Int = 0, refused: Int = 0,
                maximumInProgress: Int = 0, maximumWaiting: Int = 0) {
        self.second = second
        self.arrived = arrived
        self.started = started
        self.finished = finished
        self.refused = refused
        self.maximumInProgress = maximumInProgress
        self.maximumWaiting = maximumWaiting
    }
}
