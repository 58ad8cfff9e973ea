import ForwarderCore
import Foundation

/// What the mock's capacity model made of an import request at the door.
public enum MockAdmission: Sendable {
    /// Serve it in this slot: handle it with `handleImport(_:slot:)` at `startAt` (or at once)
    /// and answer no earlier than `finishAt`.
    case serve(CapacitySlot)
    /// Refused over capacity: answer `exchange.reply` at once. It is journaled and counted.
    case refused(MockExchange)
}

extension MockSFM {
    /// Asks the capacity model for a slot for a request whose body of `byteCount` bytes was
    /// complete at `arrivalAt`. Without a capacity plan every request is served at once.
    public func admit(arrivalAt: FileTime, byteCount: Int, serialHint: String? = nil,
                      contentType: String? = nil) -> MockAdmission {
        state.withLock { state in
            // Mutated in place through the optional: a copy would copy the series on every request.
            guard let decision = state.capacity?.admit(arrivalAt: arrivalAt, byteCount: byteCount) else {
                return .serve(CapacitySlot(arrivalAt: arrivalAt, startAt: arrivalAt, finishAt: arrivalAt, waitingAhead: 0))
            }
            switch decision {
            case .serve(let slot):
                return .serve(slot)
            case .refuse(let refusal):
                let request = MockImportRequest(receivedAt: arrivalAt, serialHint: serialHint, contentType: contentType,
                                                body: Data())
                return .refused(state.refuseOverCapacity(request, refusal: refusal, bodyByteCount: byteCount))
            }
        }
    }

    /// `admit` for the request the production forwarder would send; its size is the files'
    /// bytes (the multipart framing, a few hundred bytes, is left out).
    public func admit(_ request: ImportRequest, arrivalAt: FileTime) -> MockAdmission {
        admit(arrivalAt: arrivalAt, byteCount: request.binary.contents.count + (request.report?.contents.count ?? 0),
              serialHint: request.serialHint, contentType: "multipart/form-data")
    }

    /// Admits and handles `request` in one step, for a simulation that advances its own clock:
    /// a served request is handled at once and its reply's `delay` grows by the time in the
    /// queue and in service, so the reply's `duration` is when the client has its answer.
    /// Without a capacity plan it is `handleImport(_:receivedAt:)`.
    public func handleImportWithinCapacity(_ request: ImportRequest, receivedAt: FileTime) -> MockExchange {
        guard capacityPlan != nil else { return handleImport(request, receivedAt: receivedAt) }
        switch admit(request, arrivalAt: receivedAt) {
        case .refused(let exchange):
            return exchange
        case .serve(let slot):
            var exchange = handleImport(request, receivedAt: receivedAt, slot: slot)
            let wait = slot.finishAt - receivedAt
            switch exchange.reply {
            case .respond(var response):
                response.delay += wait
                exchange.reply = .respond(response)
            case .socketFault(let fault, let delay):
                exchange.reply = .socketFault(fault, delay: delay + wait)
            }
            return exchange
        }
    }

    /// The counters with the capacity model played out to `time` (its per-second series and
    /// the requests in progress then).
    public func stats(at time: FileTime) -> MockStats {
        state.withLock { state in
            var stats = state.stats
            stats.events = state.events.count
            stats.capacity = state.capacity?.stats(through: time)
            return stats
        }
    }

    /// The capacity plan in force, nil when the server is unlimited.
    public var capacityPlan: CapacityPlan? { state.withLock { $0.capacity?.plan } }

    /// Serves requests arriving from `time` on by `plan` (nil: unlimited). Requests already
    /// admitted keep their schedule; the counters and series go on.
    public func replaceCapacityPlan(_ plan: CapacityPlan?, at time: FileTime) {
        state.withLock { state in
            guard let plan else {
                state.capacity = nil
                return
            }
            if state.capacity == nil {
                state.capacity = CapacityModel(plan: plan)
            } else {
                state.capacity?.replacePlan(plan, at: time)
            }
        }
    }
}

extension MockSFM.State {
    /// Journals and answers a request refused over capacity. It counts as an import request
    /// (and takes a request number) but reaches neither the fault plan nor the store.
    mutating func refuseOverCapacity(_ request: MockImportRequest, refusal: CapacityRefusal,
                                     bodyByteCount: Int) -> MockExchange {
        requestsSincePlanInstalled += 1
        let installedAt = planInstalledAt ?? request.receivedAt
        planInstalledAt = installedAt
        stats.requests += 1
        let detail = refusal.reason
        let entry = JournalEntry(
            sequence: journal.nextSequence, requestNumber: requestsSincePlanInstalled,
            receivedAtNanosecondsSince1970: request.receivedAt.nanosecondsSince1970,
            receivedAt: request.receivedAt.description, elapsedSeconds: (request.receivedAt - installedAt).secondsValue,
            serialHint: request.serialHint, contentType: request.contentType, bodyByteCount: bodyByteCount,
            files: [], outcome: .refused, httpStatus: refusal.status, rows: [], stored: false, fault: nil,
            firedRules: [], delayMilliseconds: 0, detail: detail)
        journal.append(entry)
        let response = MockHTTPResponse(status: refusal.status, headers: refusal.headers, body: MockSFM.detailBody(detail))
        return MockExchange(reply: .respond(response), journalEntry: entry, storedFiles: [])
    }
}
