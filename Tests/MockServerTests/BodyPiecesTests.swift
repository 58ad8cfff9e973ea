import AsyncHTTPClient
import ForwarderCore
import ForwarderSimulation
import Foundation
import MockSFMServer
import NIOCore
import Testing

/// The import body as the mock gathers it when it arrives in pieces rather than in one read.
@Suite("Mock body collection")
struct BodyPiecesTests {
    static let binaryName = "N844L20G.630H"

    /// Posts `body` in chunked encoding (no `Content-Length`), `pieceByteCount` bytes a chunk,
    /// pausing between chunks so that they reach the server in separate reads.
    static func postInPieces(_ server: MockSFMServer, contentType: String, body: Data,
                             pieceByteCount: Int) async throws -> (status: Int, body: Data) {
        var request = HTTPClientRequest(url: server.importURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: contentType)
        let pieces = stride(from: 0, to: body.count, by: pieceByteCount).map { start in
            ByteBuffer(bytes: body[start..<min(start + pieceByteCount, body.count)])
        }
        let stream = AsyncStream<ByteBuffer> { continuation in
            Task {
                for piece in pieces {
                    continuation.yield(piece)
                    try? await Task.sleep(for: .milliseconds(20))
                }
                continuation.finish()
            }
        }
        request.body = .stream(stream, length: .unknown)
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(600))
        let reply = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), Data(reply.readableBytesView))
    }

    static func form(binaryByteCount: Int) -> (form: MultipartFormBody, binary: Data) {
        let binary = Fixtures.binary(seed: 9, byteCount: binaryByteCount)
        let request = Fixtures.forwarderRequest(binaryName: binaryName, binary: binary,
                                                reportName: "N844L20G_630H_ASCII.TXT", report: Fixtures.waveformReport,
                                                serialHint: "BE18190")
        return (MultipartFormBody(request: request), binary)
    }

    @Test("Socket: a body that arrives in pieces is imported whole")
    func piecesAreGathered() async throws {
        try await withMockServer { server in
            let (form, binary) = Self.form(binaryByteCount: 30_000)
            let reply = try await Self.postInPieces(server, contentType: form.contentType, body: form.bytes,
                                                    pieceByteCount: 7_000)
            #expect(reply.status == 200, "\(String(decoding: reply.body, as: UTF8.self))")
            let stored = try #require(server.mock.event(named: Self.binaryName))
            #expect(stored.binaryDigest == EventDigest(of: binary).hex)
            #expect(stored.binaryByteCount == 30_000)
            #expect(stored.report?.rawText == Fixtures.waveformReport)
            #expect(server.mock.journal().last?.bodyByteCount == form.bytes.count)
        }
    }

    @Test("Socket: a body without a length that passes the limit in its last piece gets 413")
    func piecesPastTheLimitAreRefused() async throws {
        let (form, _) = Self.form(binaryByteCount: 30_000)
        let pieceByteCount = 8_000
        // Every piece but the last fits: only gathering the last one finds the body too large.
        let limit = (form.bytes.count - 1) / pieceByteCount * pieceByteCount
        #expect(limit < form.bytes.count && limit >= form.bytes.count - pieceByteCount)
        let mock = MockSFM(configuration: .init(maximumBodyByteCount: limit))
        try await withMockServer(mock: mock) { server in
            let reply = try await Self.postInPieces(server, contentType: form.contentType, body: form.bytes,
                                                    pieceByteCount: pieceByteCount)
            #expect(reply.status == 413)
            #expect(String(decoding: reply.body, as: UTF8.self).contains("exceeds the limit"))
            #expect(server.mock.eventCount == 0)
            #expect(server.mock.stats().rejectedRequests == 1)
        }
    }
}
