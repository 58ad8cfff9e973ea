import ForwarderCore
import Foundation
import Synchronization

/// The fleet's one server in the simulated world: the mock's pure handler behind a capacity,
/// driven on the scheduler's simulated time.
///
/// A request that finds a free slot is served: the mock handles it at its finish time (arrival
/// plus the service time) and the reply reaches the forwarder then, or a timeout does when the
/// finish is later than the request timeout (the server still stores it, as a real one would).
/// A request that finds every slot busy is refused at once with the capacity's status and
/// `Retry-After`; during the day's outage every connection is refused.
public final class SimulatedFleetServer: Sendable {
    public let mock: MockSFM
    public let capacity: FleetServerCapacity
    public let day: FleetDay
    public let requestTimeout: Duration
    private let scheduler: FleetScheduler

    private struct State {
        /// When each slot of the server is free again.
        var slotsFreeAt: [FileTime]
        var journal: [FleetRequest] = []
    }

    private let state: Mutex<State>

    public init(mock: MockSFM, capacity: FleetServerCapacity, day: FleetDay, requestTimeout: Duration,
                scheduler: FleetScheduler) {
        self.mock = mock
        self.capacity = capacity
        self.day = day
        self.requestTimeout = requestTimeout
        self.scheduler = scheduler
        state = Mutex(State(slotsFreeAt: Array(repeating: day.start - .seconds(86_400 * 365), count: capacity.maximumInProgress)))
    }

    /// Every request so far, in arrival order.
    public var journal: [FleetRequest] { state.withLock { $0.journal } }

    /// The uploader of PC `pc`.
    public func uploader(forPC pc: Int) -> any EventUploader { FleetUploader(server: self, pc: pc) }

    func handle(_ request: ImportRequest, from pc: Int) async -> UploadOutcome {
        let arrival = scheduler.now
        let byteCount = request.binary.contents.count + (request.report?.contents.count ?? 0)
        var entry = FleetRequest(pc: pc, arrivedAt: arrival, byteCount: byteCount, binaryName: request.binary.name,
                                 binaryDigest: EventDigest(of: request.binary.contents), hasReport: request.report != nil,
                                 answer: .unreachable, stored: false, alreadyHeld: false, clientOutcome: nil)
        if day.outage.contains(arrival) {
            let outcome = UploadOutcome.failed(UploadProblem(kind: .transport, detail: "connection refused"))
            entry.clientOutcome = outcome
            state.withLock { $0.journal.append(entry) }
            return outcome
        }
        let serviceTime = capacity.serviceTime(byteCount: byteCount, slowdown: day.slowdown(at: arrival))
        let admitted = state.withLock { state -> (index: Int, finish: FileTime)? in
            guard let slot = state.slotsFreeAt.indices.first(where: { state.slotsFreeAt[$0] <= arrival }) else {
                entry.answer = .refused(status: Int(capacity.overCapacity.rawValue) ?? 429,
                                        retryAfterSeconds: capacity.retryAfterSeconds)
                return nil
            }
            let finish = arrival + serviceTime
            state.slotsFreeAt[slot] = finish
            entry.answer = .served(startedAt: arrival, finishedAt: finish, status: 0)
            state.journal.append(entry)
            return (state.journal.count - 1, finish)
        }
        guard let admitted else {
            let status = Int(capacity.overCapacity.rawValue) ?? 429
            let reply = MockReply.respond(MockHTTPResponse(
                status: status,
                headers: [MockHeader("Content-Type", "application/json"),
                          MockHeader("Retry-After", String(capacity.retryAfterSeconds))],
                body: Data("{\"detail\":\"over capacity\"}".utf8)))
            let outcome = reply.uploadOutcome(forBinary: request.binary.name)
            entry.clientOutcome = outcome
            state.withLock { $0.journal.append(entry) }
            return outcome
        }
        let reply = LockedBox<MockReply?>(nil)
        scheduler.schedule(at: admitted.finish) { [self] in
            let exchange = mock.handleImport(request, receivedAt: admitted.finish)
            let row = exchange.journalEntry.rows.first { $0.filename == request.binary.name }
            self.state.withLock { state in
                state.journal[admitted.index].answer = .served(startedAt: arrival, finishedAt: admitted.finish,
                                                               status: exchange.reply.status ?? 0)
                state.journal[admitted.index].stored = exchange.journalEntry.stored
                state.journal[admitted.index].alreadyHeld = row?.skipped == 1
            }
            reply.value = exchange.reply
        }
        let deadline = arrival + requestTimeout
        await scheduler.sleep(until: min(admitted.finish, deadline))
        let outcome: UploadOutcome
        if let answered = reply.value, admitted.finish <= deadline {
            outcome = answered.uploadOutcome(forBinary: request.binary.name)
        } else {
            outcome = .failed(UploadProblem(kind: .timeout, detail: "no answer within \(requestTimeout)"))
        }
        state.withLock { $0.journal[admitted.index].clientOutcome = outcome }
        return outcome
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
