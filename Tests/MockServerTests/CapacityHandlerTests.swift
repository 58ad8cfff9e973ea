import ForwarderCore
import ForwarderSimulation
import Foundation
import Testing

/// The capacity model inside the pure mock: admissions, the journal and the statistics.
@Suite("Mock SFM capacity in process")
struct CapacityHandlerTests {
    let start = Fixtures.startTime

    func request(_ index: Int) -> ImportRequest {
        Fixtures.forwarderRequest(binaryName: Fixtures.eventName(second: index % 60, kind: .waveform),
                                  binary: Fixtures.binary(seed: UInt64(index), byteCount: 4000))
    }

    @Test("Capacity: a refusal is journaled as refused with its status, counted, and stores nothing")
    func refusalIsJournaled() throws {
        let mock = MockSFM(configuration: .init(capacity: CapacityPlan(
            maximumInProgress: 1, serviceMillisecondsPerRequest: 100, overCapacity: .tooManyRequests,
            retryAfterSeconds: 3)))
        let served = mock.handleImportWithinCapacity(request(1), receivedAt: start)
        let refused = mock.handleImportWithinCapacity(request(2), receivedAt: start + .milliseconds(50))
        #expect(served.response?.status == 200)
        #expect(refused.response?.status == 429)
        #expect(refused.response?.header("Retry-After") == "3")
        #expect(refused.rejectionDetail == "over capacity: 1 of 1 in progress")
        #expect(refused.journalEntry.outcome == .refused)
        #expect(refused.journalEntry.httpStatus == 429)
        #expect(refused.journalEntry.stored == false)
        #expect(refused.journalEntry.queueMilliseconds == nil)
        #expect(mock.eventCount == 1)
        #expect(mock.journal().map(\.outcome) == [.imported, .refused])
        #expect(mock.journal().map(\.requestNumber) == [1, 2])
        let stats = mock.stats(at: start + .seconds(1))
        #expect(stats.requests == 2)
        #expect(stats.rejectedRequests == 0)
        #expect(stats.capacity?.refusedByStatus == ["429": 1])
        #expect(stats.capacity?.admitted == 1)
    }

    @Test("Capacity: a queued request's reply comes after its wait and service, which the journal records")
    func queuedReplyIsLate() throws {
        let mock = MockSFM(configuration: .init(capacity: CapacityPlan(
            maximumInProgress: 1, serviceMillisecondsPerRequest: 100, serviceMillisecondsPerMegabyte: 1000)))
        let first = mock.handleImportWithinCapacity(request(1), receivedAt: start)
        let second = mock.handleImportWithinCapacity(request(2), receivedAt: start + .milliseconds(30))
        // 4,000 bytes at 1,000 ms per MB add 4 ms to the 100 ms per request.
        #expect(first.response?.duration == .milliseconds(104))
        #expect(second.response?.duration == .milliseconds(74 + 104))
        #expect(first.journalEntry.queueMilliseconds == 0)
        #expect(first.journalEntry.serviceMilliseconds == 104)
        #expect(second.journalEntry.queueMilliseconds == 74)
        #expect(second.journalEntry.serviceMilliseconds == 104)
        #expect(second.journalEntry.delayMilliseconds == 0, "the fault plan's delay stays separate")
        #expect(second.row(request(2).binary.name)?.inserted == 1)
        let stats = mock.stats(at: start + .seconds(1))
        #expect(stats.capacity?.queued == 1)
        #expect(stats.capacity?.maximumInProgress == 1)
        #expect(stats.inserted == 2)
    }

    @Test("Capacity: without a plan every request is served at once and the JSON keeps its old shape")
    func withoutPlanNothingChanges() throws {
        let mock = MockSFM()
        guard case .serve(let slot) = mock.admit(request(1), arrivalAt: start) else {
            Issue.record("an unlimited mock refused")
            return
        }
        #expect(slot.startAt == start && slot.finishAt == start)
        let exchange = mock.handleImport(request(1), receivedAt: start)
        let journalJSON = try JSONSerialization.jsonObject(with: JSONEncoder().encode(exchange.journalEntry)) as? [String: Any]
        #expect(journalJSON?["queueMilliseconds"] == nil)
        #expect(journalJSON?["serviceMilliseconds"] == nil)
        let statsJSON = try JSONSerialization.jsonObject(with: JSONEncoder().encode(mock.stats(at: start))) as? [String: Any]
        #expect(statsJSON?["capacity"] == nil)
        #expect(statsJSON?["inserted"] as? Int == 1)
    }

    @Test("Capacity: reset empties the schedule and counters but keeps the plan; a new plan applies from then on")
    func resetAndReplace() {
        let plan = CapacityPlan(maximumInProgress: 1, serviceMillisecondsPerRequest: 1000, overCapacity: .serviceUnavailable)
        let mock = MockSFM(configuration: .init(capacity: plan))
        _ = mock.handleImportWithinCapacity(request(1), receivedAt: start)
        #expect(mock.handleImportWithinCapacity(request(2), receivedAt: start).response?.status == 503)
        mock.reset(at: start)
        #expect(mock.capacityPlan == plan)
        #expect(mock.stats().capacity?.arrived == 0)
        #expect(mock.handleImportWithinCapacity(request(3), receivedAt: start).response?.status == 200)
        mock.replaceCapacityPlan(CapacityPlan(maximumInProgress: 2, serviceMillisecondsPerRequest: 1000,
                                              overCapacity: .serviceUnavailable), at: start)
        #expect(mock.handleImportWithinCapacity(request(4), receivedAt: start).response?.status == 200)
        #expect(mock.handleImportWithinCapacity(request(5), receivedAt: start).response?.status == 503)
        mock.replaceCapacityPlan(nil, at: start)
        #expect(mock.handleImportWithinCapacity(request(6), receivedAt: start).response?.status == 200)
        #expect(mock.stats().capacity == nil)
    }
}
