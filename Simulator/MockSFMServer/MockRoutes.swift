import ForwarderCore
import ForwarderSimulation
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The request context: Hummingbird's core storage plus the connection, which socket-level
/// faults act on directly.
struct MockRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// The mock's HTTP surface: the import endpoint and the `/mock/...` inspection API.
enum MockRoutes {
    static func router(mock: MockSFM, archive: ReceivedFileArchive?,
                       hungConnections: OpenConnections) -> Router<MockRequestContext> {
        let router = Router(context: MockRequestContext.self)
        router.post(RouterPath(MockContract.importPath)) { request, context in
            try await importResponse(request, context: context, mock: mock, archive: archive,
                                     hungConnections: hungConnections)
        }
        router.get("/mock/events") { request, _ in
            let serial = request.uri.queryParameters["serial"].map { String($0).uppercased() }
            let events = mock.events().filter { serial == nil || $0.unitSerial == serial }
            return json(events)
        }
        router.get("/mock/journal") { request, _ in
            let after = request.uri.queryParameters["after"].flatMap { Int($0) } ?? 0
            let limit = request.uri.queryParameters["limit"].flatMap { Int($0) } ?? 1000
            return json(mock.journal(after: after, limit: limit))
        }
        router.get("/mock/stats") { _, _ in json(mock.stats(at: FileTime(Date()))) }
        router.get("/mock/capacity") { _, _ in
            guard let plan = mock.capacityPlan else { return json(["detail": "no capacity plan: unlimited"], status: .notFound) }
            return json(plan)
        }
        router.put("/mock/capacity") { request, _ in
            let body = try await request.body.collect(upTo: 1 << 20)
            do {
                let plan = try CapacityPlan(json: Data(body.readableBytesView))
                mock.replaceCapacityPlan(plan, at: FileTime(Date()))
                return json(plan)
            } catch {
                return json(["detail": "invalid capacity plan: \(error)"], status: .badRequest)
            }
        }
        router.get("/mock/faults") { _, _ in json(mock.faultPlan) }
        router.put("/mock/faults") { request, _ in
            let body = try await request.body.collect(upTo: 1 << 20)
            do {
                let plan = try FaultPlan(json: Data(body.readableBytesView))
                mock.replaceFaultPlan(plan, installedAt: FileTime(Date()))
                return json(plan)
            } catch {
                return json(["detail": "invalid fault plan: \(error)"], status: .badRequest)
            }
        }
        router.post("/mock/reset") { _, _ in
            mock.reset(at: FileTime(Date()))
            return json(["detail": "reset"])
        }
        return router
    }

    /// Reads the body (up to the limit), asks the capacity model for a slot, waits for it, lets
    /// the mock decide, holds the answer until the slot's service time is over, and carries
    /// out the reply. Waiting is `ServerExecutor.sleep`, never a blocked event loop.
    private static func importResponse(_ request: Request, context: MockRequestContext, mock: MockSFM,
                                       archive: ReceivedFileArchive?,
                                       hungConnections: OpenConnections) async throws -> Response {
        let receivedAt = FileTime(Date())
        let serialHint = request.uri.queryParameters["serial"].map(String.init)
        let contentType = request.headers[.contentType]
        let limit = mock.configuration.maximumBodyByteCount
        let exchange: MockExchange
        var serviceEndsAt: FileTime?
        let declaredByteCount = request.headers[.contentLength].flatMap { Int($0) }
        if let declared = declaredByteCount, declared > limit {
            exchange = mock.rejectOversizedBody(receivedAt: receivedAt, serialHint: serialHint,
                                                contentType: contentType, byteCount: declared)
        } else {
            if request.headers[.expect]?.lowercased() == "100-continue" {
                // curl asks before sending bodies over 1 MB and otherwise waits a second.
                await SocketFaults.writeRaw(Data("HTTP/1.1 100 Continue\r\n\r\n".utf8), on: context.channel)
            }
            do {
                let body = try await collectBody(request.body, upTo: limit, declaredByteCount: declaredByteCount)
                // Received when complete: the capacity model's wait starts then, not while the
                // body was still arriving.
                let completeAt = FileTime(Date())
                let importRequest = MockImportRequest(receivedAt: completeAt, serialHint: serialHint,
                                                      contentType: contentType, body: body)
                switch mock.admit(arrivalAt: completeAt, byteCount: body.readableBytes, serialHint: serialHint,
                                  contentType: contentType) {
                case .refused(let refusal):
                    exchange = refusal
                case .serve(let slot):
                    // A client that leaves while its request waits does not free the slot:
                    // the request is served anyway, as a real server would.
                    try? await sleep(until: slot.startAt)
                    exchange = mock.handleImport(importRequest, slot: slot)
                    serviceEndsAt = slot.finishAt
                }
            } catch is NIOTooManyBytesError {
                exchange = mock.rejectOversizedBody(receivedAt: receivedAt, serialHint: serialHint,
                                                    contentType: contentType, byteCount: limit + 1)
            }
        }
        archive?.store(exchange.storedFiles)
        switch exchange.reply {
        case .respond(let reply):
            if let serviceEndsAt { try await sleep(until: serviceEndsAt) }
            if reply.delay > .zero { try await ServerExecutor.sleep(for: reply.delay) }
            var response = response(for: reply)
            if reply.status == 413 { response.headers[.connection] = "close" }
            return response
        case .socketFault(let fault, let delay):
            if let serviceEndsAt { try await sleep(until: serviceEndsAt) }
            if delay > .zero { try await ServerExecutor.sleep(for: delay) }
            await SocketFaults.perform(fault, on: context.channel, hungConnections: hungConnections)
            // The connection is gone; Hummingbird's attempt to write this fails quietly.
            return Response(status: .internalServerError)
        }
    }

    /// The request body, up to `limit` bytes; past it, `NIOTooManyBytesError`.
    ///
    /// A body that arrives in one piece (NIO reads up to 64 KB at a time, so an upload over
    /// loopback often does) is that piece, not a copy; one that arrives in several is gathered
    /// into one buffer of the declared size, so it is not regrown while the pieces arrive.
    private static func collectBody(_ body: RequestBody, upTo limit: Int,
                                    declaredByteCount: Int?) async throws -> ByteBuffer {
        var pieces = body.makeAsyncIterator()
        guard let first = try await pieces.next() else { return ByteBuffer() }
        guard first.readableBytes <= limit else { throw NIOTooManyBytesError(maxBytes: limit) }
        guard var piece = try await pieces.next() else { return first }
        var gathered = ByteBufferAllocator().buffer(capacity: max(declaredByteCount ?? 0, first.readableBytes))
        gathered.writeImmutableBuffer(first)
        while true {
            guard gathered.readableBytes + piece.readableBytes <= limit else { throw NIOTooManyBytesError(maxBytes: limit) }
            gathered.writeImmutableBuffer(piece)
            guard let next = try await pieces.next() else { return gathered }
            piece = next
        }
    }

    /// Sleeps until the wall clock reaches `time`; returns at once when it has.
    private static func sleep(until time: FileTime) async throws {
        let wait = time - FileTime(Date())
        if wait > .zero { try await ServerExecutor.sleep(for: wait) }
    }

    /// A Hummingbird response for the mock's reply, paced when the reply asks for a slow body.
    static func response(for reply: MockHTTPResponse) -> Response {
        var fields = HTTPFields()
        for header in reply.headers {
            guard let name = HTTPField.Name(header.name) else { continue }
            fields.append(HTTPField(name: name, value: header.value))
        }
        let body = ByteBuffer(bytes: reply.body)
        let status = HTTPResponse.Status(code: reply.status)
        guard let pacing = reply.bodyPacing else {
            return Response(status: status, headers: fields, body: .init(byteBuffer: body))
        }
        return Response(status: status, headers: fields, body: ResponseBody(contentLength: body.readableBytes) { writer in
            var remaining = body
            while let chunk = remaining.readSlice(length: min(pacing.chunkByteCount, remaining.readableBytes)),
                  chunk.readableBytes > 0 {
                try await writer.write(chunk)
                if remaining.readableBytes > 0 { try await ServerExecutor.sleep(for: pacing.interval) }
            }
            try await writer.finish(nil)
        })
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
