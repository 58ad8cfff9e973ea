import ForwarderCore
import ForwarderSimulation
import Foundation
import Testing

/// The capacity model on its own: times passed in, schedules and refusals out.
@Suite("Capacity model")
struct CapacityModelTests {
    let start = Fixtures.startTime

    func at(_ milliseconds: Int64) -> FileTime { start + .milliseconds(milliseconds) }

    func slot(_ decision: CapacityDecision, sourceLocation: SourceLocation = #_sourceLocation) -> CapacitySlot? {
        guard case .serve(let slot) = decision else {
            Issue.record("expected a slot, got \(decision)", sourceLocation: sourceLocation)
            return nil
        }
        return slot
    }

    func refusal(_ decision: CapacityDecision, sourceLocation: SourceLocation = #_sourceLocation) -> CapacityRefusal? {
        guard case .refuse(let refusal) = decision else {
            Issue.record("expected a refusal, got \(decision)", sourceLocation: sourceLocation)
            return nil
        }
        return refusal
    }

    @Test("Capacity: service time is the time per request plus the time per megabyte of body")
    func serviceTime() {
        var model = CapacityModel(plan: CapacityPlan(maximumInProgress: 10, serviceMillisecondsPerRequest: 10,
                                                     serviceMillisecondsPerMegabyte: 20))
        #expect(slot(model.admit(arrivalAt: at(0), byteCount: 0))?.serviceTime == .milliseconds(10))
        #expect(slot(model.admit(arrivalAt: at(0), byteCount: 1_000_000))?.serviceTime == .milliseconds(30))
        #expect(slot(model.admit(arrivalAt: at(0), byteCount: 500_000))?.serviceTime == .milliseconds(20))
        #expect(slot(model.admit(arrivalAt: at(0), byteCount: 1))?.serviceTime == .nanoseconds(10_000_020))
        #expect(CapacityPlan(maximumInProgress: 1, serviceMillisecondsPerMegabyte: 20).serviceTime(byteCount: 2_500_000)
                == .milliseconds(50))
        #expect(CapacityPlan(maximumInProgress: 4, serviceMillisecondsPerRequest: 30, serviceMillisecondsPerMegabyte: 500)
                .requestsPerSecond(byteCount: 20_000) == 100)
        #expect(CapacityPlan(maximumInProgress: 4).requestsPerSecond(byteCount: 20_000) == .infinity)
    }

    @Test("Capacity: a full server queues first come first served and never has more in progress than its limit")
    func queueOrder() {
        var model = CapacityModel(plan: CapacityPlan(maximumInProgress: 2, serviceMillisecondsPerRequest: 100))
        let slots = (0..<5).compactMap { slot(model.admit(arrivalAt: at(Int64($0)), byteCount: 0)) }
        #expect(slots.map { $0.startAt - start } == [.zero, .milliseconds(1), .milliseconds(100), .milliseconds(101),
                                                     .milliseconds(200)])
        #expect(slots.map { $0.finishAt - start } == [.milliseconds(100), .milliseconds(101), .milliseconds(200),
                                                      .milliseconds(201), .milliseconds(300)])
        #expect(slots.map(\.waitingAhead) == [0, 0, 0, 1, 2])
        #expect(slots.map(\.queueTime) == [.zero, .zero, .milliseconds(98), .milliseconds(98), .milliseconds(196)])
        let stats = model.stats(through: at(1000))
        #expect(stats.maximumInProgress == 2)
        #expect(stats.maximumWaiting == 3)
        #expect(stats.admitted == 5)
        #expect(stats.queued == 3)
        #expect(stats.inProgress == 0 && stats.waiting == 0)
        #expect(stats.totalQueueMilliseconds == 98 + 98 + 196)
        #expect(stats.maximumQueueMilliseconds == 196)
        #expect(stats.totalServiceMilliseconds == 500)
    }

    @Test("Capacity: seeded random arrivals never exceed the limit and are served in arrival order")
    func randomArrivalsStayWithinTheLimit() {
        let limit = 3
        var model = CapacityModel(plan: CapacityPlan(maximumInProgress: limit, serviceMillisecondsPerRequest: 40,
                                                     serviceMillisecondsPerMegabyte: 100))
        var random = SeededRandom(seed: 12)
        var time = start
        var slots: [CapacitySlot] = []
        for _ in 0..<2000 {
            time = time + .milliseconds(Int64(random.next() % 40))
            if let slot = slot(model.admit(arrivalAt: time, byteCount: Int(random.next() % 400_000))) { slots.append(slot) }
        }
        // An independent sweep over the returned slots: +1 at each start, -1 at each finish,
        // finishes first at equal times (a slot handed over is not held twice).
        let highest = mostOverlapping(slots.map { ($0.startAt.nanosecondsSince1970, $0.finishAt.nanosecondsSince1970) })
        #expect(highest == limit, "the load is high enough to fill every slot, never more")
        #expect(zip(slots, slots.dropFirst()).allSatisfy { $0.startAt <= $1.startAt }, "first come, first served")
        #expect(slots.allSatisfy { $0.startAt >= $0.arrivalAt })
        let stats = model.stats(through: time + .seconds(3600))
        #expect(stats.maximumInProgress == limit)
        #expect(stats.seconds.allSatisfy { $0.maximumInProgress <= limit })
        #expect(stats.seconds.map(\.started).reduce(0, +) == 2000)
        #expect(stats.seconds.map(\.finished).reduce(0, +) == 2000)
        #expect(stats.seconds.map(\.arrived).reduce(0, +) == 2000)
    }

    @Test("Capacity: a request just before a slot frees waits, at the moment and just after it starts at once")
    func queueBoundary() {
        func admitAfterBusySlot(at offset: Duration) -> CapacitySlot? {
            var model = CapacityModel(plan: CapacityPlan(maximumInProgress: 1, serviceMillisecondsPerRequest: 100))
            _ = model.admit(arrivalAt: start, byteCount: 0)
            return slot(model.admit(arrivalAt: start + offset, byteCount: 0))
        }
        let before = admitAfterBusySlot(at: .milliseconds(100) - .nanoseconds(1))
        #expect(before?.queueTime == .nanoseconds(1))
        #expect(before?.startAt == at(100))
        #expect(admitAfterBusySlot(at: .milliseconds(100))?.queueTime == .zero)
        #expect(admitAfterBusySlot(at: .milliseconds(100) + .nanoseconds(1))?.queueTime == .zero)
    }

    @Test("Capacity: 429 refuses just before a slot frees and serves at the moment and after")
    func refusalBoundary() {
        func decision(at offset: Duration) -> CapacityDecision {
            var model = CapacityModel(plan: CapacityPlan(maximumInProgress: 1, serviceMillisecondsPerRequest: 100,
                                                         overCapacity: .tooManyRequests, retryAfterSeconds: 5))
            _ = model.admit(arrivalAt: start, byteCount: 0)
            return model.admit(arrivalAt: start + offset, byteCount: 0)
        }
        let refused = refusal(decision(at: .milliseconds(100) - .nanoseconds(1)))
        #expect(refused?.status == 429)
        #expect(refused?.retryAfter == "5")
        #expect(refused?.headers == [MockHeader("Content-Type", "application/json"), MockHeader("Retry-After", "5")])
        #expect(slot(decision(at: .milliseconds(100)))?.startAt == at(100))
        #expect(slot(decision(at: .milliseconds(100) + .nanoseconds(1)))?.queueTime == .zero)
    }

    @Test("Capacity: a full queue refuses with its status; one more fits once a waiting request starts")
    func queueLimit() {
        var model = CapacityModel(plan: CapacityPlan(maximumInProgress: 1, serviceMillisecondsPerRequest: 100,
                                                     overCapacity: .queue, queueLimit: 2, queueFullStatus: 429,
                                                     retryAfterSeconds: 1))
        #expect(slot(model.admit(arrivalAt: at(0), byteCount: 0))?.queueTime == .zero)
        #expect(slot(model.admit(arrivalAt: at(1), byteCount: 0))?.waitingAhead == 0)
        #expect(slot(model.admit(arrivalAt: at(2), byteCount: 0))?.waitingAhead == 1)
        #expect(refusal(model.admit(arrivalAt: at(3), byteCount: 0))?.status == 429)
        // The second starts at 100 ms: just before, the queue is still full; at 100 ms it has room.
        #expect(refusal(model.admit(arrivalAt: at(100) - .nanoseconds(1), byteCount: 0))?.status == 429)
        #expect(slot(model.admit(arrivalAt: at(100), byteCount: 0))?.startAt == at(300))
        let stats = model.stats(through: at(1000))
        #expect(stats.refused == 2)
        #expect(stats.refusedByStatus == ["429": 2])
        #expect(stats.maximumWaiting == 2)

        var noQueue = CapacityModel(plan: CapacityPlan(maximumInProgress: 1, serviceMillisecondsPerRequest: 100,
                                                       queueLimit: 0))
        _ = noQueue.admit(arrivalAt: at(0), byteCount: 0)
        #expect(refusal(noQueue.admit(arrivalAt: at(50), byteCount: 0))?.status == 503, "queueFullStatus defaults to 503")
    }

    @Test("Capacity: 503 with Retry-After as an HTTP-date names the first whole second at or after the delay")
    func retryAfterDate() {
        func retryAfter(refusedAt offset: Duration) -> String? {
            var model = CapacityModel(plan: CapacityPlan(maximumInProgress: 1, serviceMillisecondsPerRequest: 10_000,
                                                         overCapacity: .serviceUnavailable, retryAfterSeconds: 5,
                                                         retryAfterForm: .date))
            _ = model.admit(arrivalAt: start, byteCount: 0)
            let refused = refusal(model.admit(arrivalAt: start + offset, byteCount: 0))
            #expect(refused?.status == 503)
            return refused?.retryAfter
        }
        // start is 1_780_000_000 s since 1970, 2026-05-28T20:26:40Z.
        #expect(retryAfter(refusedAt: .zero) == "Thu, 28 May 2026 20:26:45 GMT")
        #expect(retryAfter(refusedAt: .nanoseconds(1)) == "Thu, 28 May 2026 20:26:46 GMT")
        #expect(retryAfter(refusedAt: .seconds(1) - .nanoseconds(1)) == "Thu, 28 May 2026 20:26:46 GMT")
        #expect(retryAfter(refusedAt: .seconds(1)) == "Thu, 28 May 2026 20:26:46 GMT")
        #expect(retryAfter(refusedAt: .seconds(1) + .nanoseconds(1)) == "Thu, 28 May 2026 20:26:47 GMT")

        var withoutHeader = CapacityModel(plan: CapacityPlan(maximumInProgress: 1, serviceMillisecondsPerRequest: 10,
                                                             overCapacity: .serviceUnavailable))
        _ = withoutHeader.admit(arrivalAt: start, byteCount: 0)
        let bare = refusal(withoutHeader.admit(arrivalAt: start, byteCount: 0))
        #expect(bare?.retryAfter == nil)
        #expect(bare?.headers == [MockHeader("Content-Type", "application/json")])
    }

    @Test("Capacity: IMF-fixdate matches RFC 9110's example, leap days and centuries")
    func imfFixdate() {
        #expect(IMFFixdate.format(secondsSince1970: 784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(IMFFixdate.format(secondsSince1970: 0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(IMFFixdate.format(secondsSince1970: 951_782_400) == "Tue, 29 Feb 2000 00:00:00 GMT")
        #expect(IMFFixdate.format(secondsSince1970: 4_107_542_400) == "Mon, 01 Mar 2100 00:00:00 GMT")
        #expect(IMFFixdate.format(secondsSince1970: 4_107_542_399) == "Sun, 28 Feb 2100 23:59:59 GMT")
    }

    @Test("Capacity: the per-second series counts arrivals, starts, finishes and carries work through quiet seconds")
    func perSecondSeries() {
        var model = CapacityModel(plan: CapacityPlan(maximumInProgress: 1, serviceMillisecondsPerRequest: 1500))
        for offset: Int64 in [0, 100, 200] { _ = model.admit(arrivalAt: at(offset), byteCount: 0) }
        // Served 0–1.5 s, 1.5–3 s, 3–4.5 s.
        let seconds = model.stats(through: at(10_000)).seconds
        let first = start.nanosecondsSince1970 / 1_000_000_000
        #expect(seconds == [
            CapacitySecond(second: first, arrived: 3, started: 1, maximumInProgress: 1, maximumWaiting: 2),
            CapacitySecond(second: first + 1, started: 1, finished: 1, maximumInProgress: 1, maximumWaiting: 2),
            CapacitySecond(second: first + 2, maximumInProgress: 1, maximumWaiting: 1),
            CapacitySecond(second: first + 3, started: 1, finished: 1, maximumInProgress: 1, maximumWaiting: 1),
            CapacitySecond(second: first + 4, finished: 1, maximumInProgress: 1, maximumWaiting: 0),
        ])
    }

    @Test("Capacity: a time earlier than one already seen counts as the latest seen")
    func timeNeverGoesBack() {
        var model = CapacityModel(plan: CapacityPlan(maximumInProgress: 1, serviceMillisecondsPerRequest: 100))
        _ = model.admit(arrivalAt: at(50), byteCount: 0)
        let late = slot(model.admit(arrivalAt: at(10), byteCount: 0))
        #expect(late?.arrivalAt == at(50))
        #expect(late?.startAt == at(150))
    }

    @Test("Capacity: a new plan serves new requests with its slots and service time; admitted ones keep their schedule")
    func replacePlan() {
        var model = CapacityModel(plan: CapacityPlan(maximumInProgress: 1, serviceMillisecondsPerRequest: 100))
        _ = model.admit(arrivalAt: at(0), byteCount: 0)
        let queued = slot(model.admit(arrivalAt: at(1), byteCount: 0))
        #expect(queued?.startAt == at(100))
        model.replacePlan(CapacityPlan(maximumInProgress: 2, serviceMillisecondsPerRequest: 300), at: at(10))
        let afterChange = slot(model.admit(arrivalAt: at(20), byteCount: 0))
        #expect(afterChange?.startAt == at(20))
        #expect(afterChange?.finishAt == at(320))
        #expect(model.stats(through: at(1000)).maximumInProgress == 2)
    }

    @Test("Capacity: a plan needs only its limit, and a bad value is an error naming the key and the value")
    func planJSON() throws {
        let minimal = try CapacityPlan(json: Data(#"{"maximumInProgress": 4}"#.utf8))
        #expect(minimal == CapacityPlan(maximumInProgress: 4))
        let full = try CapacityPlan(json: Data(#"""
            {"maximumInProgress": 2, "serviceMillisecondsPerRequest": 50, "serviceMillisecondsPerMegabyte": 20,
             "overCapacity": "429", "retryAfterSeconds": 5, "retryAfterForm": "date"}
            """#.utf8))
        #expect(full.overCapacity == .tooManyRequests)
        #expect(full.retryAfterForm == .date)
        #expect(full.serviceTime(byteCount: 1_000_000) == .milliseconds(70))
        #expect(try CapacityPlan(json: JSONEncoder().encode(full)) == full)

        for (json, key, value) in [(#"{"maximumInProgress": 0}"#, "maximumInProgress", "0"),
                                   (#"{"maximumInProgress": 1, "queueFullStatus": 500}"#, "queueFullStatus", "500"),
                                   (#"{"maximumInProgress": 1, "serviceMillisecondsPerRequest": -1}"#,
                                    "serviceMillisecondsPerRequest", "-1.0"),
                                   (#"{"maximumInProgress": 1, "retryAfterSeconds": -2}"#, "retryAfterSeconds", "-2")] {
            let error = #expect(throws: CapacityPlanError.self) { try CapacityPlan(json: Data(json.utf8)) }
            #expect(error?.key == key)
            #expect(error?.value == value)
        }
    }
}

/// The most half-open `[start, finish)` intervals covering one moment: +1 at each start, -1 at
/// each finish, finishes first at equal times (a slot handed over is not held twice).
func mostOverlapping(_ intervals: [(start: Int64, finish: Int64)]) -> Int {
    var changes: [(time: Int64, change: Int)] = []
    for interval in intervals {
        changes.append((interval.start, 1))
        changes.append((interval.finish, -1))
    }
    changes.sort { (left: (time: Int64, change: Int), right: (time: Int64, change: Int)) -> Bool in
        left.time != right.time ? left.time < right.time : left.change < right.change
    }
    var overlapping = 0
    var most = 0
    for change in changes {
        overlapping += change.change
        most = max(most, overlapping)
    }
    return most
}
