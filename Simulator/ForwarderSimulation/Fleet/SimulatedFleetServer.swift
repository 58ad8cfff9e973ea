import ForwarderCore
import Foundation
import Synchronization

/// The fleet's one server in the simulated world: the mock with its capacity model, driven
/// on the scheduler's simulated time.
///
/// The capacity model admits a request at its arrival: a slot, whose finish is when the mock
/// handles it and the reply reaches the forwarder (or a timeout does, when the finish is later
/// than the request timeout; the server still stores it, as a real one would), or a refusal
/// answered at once with `Retry-After`. During the day's outage every connection is refused;
/// during the slow period the mock serves by a capacity plan with longer service times.
public final class SimulatedFleetServer: Sendable {
    public let mock: MockSFM
    public let capacity: FleetServerCapacity
    public let day: FleetDay
    public let requestTimeout: Duration
    private let scheduler: FleetScheduler
    /// Every request, in arrival order.
    private let requests = Mutex<[FleetRequest]>([])

    public init(mock: MockSFM, capacity: FleetServerCapacity, day: FleetDay, requestTimeout: Duration,
                scheduler: FleetScheduler) {
        self.mock = mock
        self.capacity = capacity
        self.day = day
        self.requestTimeout = requestTimeout
        self.scheduler = scheduler
        mock.replaceCapacityPlan(capacity.plan(slowdown: 1), at: day.start)
        scheduler.schedule(at: day.slowPeriod.lowerBound) {
            mock.replaceCapacityPlan(capacity.plan(slowdown: day.slowdown), at: day.slowPeriod.lowerBound)
        }
        scheduler.schedule(at: day.slowPeriod.upperBound) {
            mock.replaceCapacityPlan(capacity.plan(slowdown: 1), at: day.slowPeriod.upperBound)
        }
    }

    /// Every request so far, in arrival order.
    public var journal: [FleetRequest] { requests.withLock { $0 } }

    /// The uploader of PC `pc`.
    public func uploader(forPC pc: Int) -> any EventUploader { FleetUploader(server: self, pc: pc) }

    func handle(_ request: ImportRequest, from pc: Int) async -> UploadOutcome {
        let arrival = scheduler.now
        var entry = FleetRequest(pc: pc, arrivedAt: arrival,
                                 byteCount: request.binary.contents.count + (request.report?.contents.count ?? 0),
                                 binaryName: request.binary.name, binaryDigest: EventDigest(of: request.binary.contents),
                                 hasReport: request.report != nil, answer: .unreachable, stored: false, alreadyHeld: false,
                                 clientOutcome: nil)
        if day.outage.contains(arrival) {
            entry.clientOutcome = .failed(UploadProblem(kind: .transport, detail: "connection refused"))
            requests.withLock { $0.append(entry) }
            return entry.clientOutcome!
        }
        switch mock.admit(request, arrivalAt: arrival) {
        case .refused(let exchange):
            entry.answer = .refused(status: exchange.reply.status ?? 0)
            entry.clientOutcome = exchange.reply.uploadOutcome(forBinary: request.binary.name)
            requests.withLock { $0.append(entry) }
            return entry.clientOutcome!
        case .serve(let slot):
            entry.answer = .served(startedAt: slot.startAt, finishedAt: slot.finishAt, status: 0)
            let index = requests.withLock { requests in
                requests.append(entry)
                return requests.count - 1
            }
            let reply = LockedBox<MockReply?>(nil)
            scheduler.schedule(at: slot.finishAt) { [self] in
                let exchange = mock.handleImport(request, receivedAt: arrival, slot: slot)
                let row = exchange.journalEntry.rows.first { $0.filename == request.binary.name }
                requests.withLock { requests in
                    requests[index].answer = .served(startedAt: slot.startAt, finishedAt: slot.finishAt,
                                                     status: exchange.reply.status ?? 0)
                    requests[index].stored = exchange.journalEntry.stored
                    requests[index].alreadyHeld = row?.skipped == 1
                }
                reply.value = exchange.reply
            }
            let deadline = arrival + requestTimeout
            await scheduler.sleep(until: min(slot.finishAt, deadline))
            let outcome: UploadOutcome
            if let answered = reply.value, slot.finishAt <= deadline {
                outcome = answered.uploadOutcome(forBinary: request.binary.name)
            } else {
                outcome = .failed(UploadProblem(kind: .timeout, detail: "no answer within \(requestTimeout)"))
            }
            requests.withLock { $0[index].clientOutcome = outcome }
            return outcome
        }
    }
}

/// One PC's uploader: every upload goes to the fleet's server, tagged with the PC.
struct FleetUploader: EventUploader {
    let server: SimulatedFleetServer
    let pc: Int

    func upload(_ request: ImportRequest) async -> UploadOutcome {
        await server.handle(request, from: pc)
    }
}
