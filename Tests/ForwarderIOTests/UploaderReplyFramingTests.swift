import ForwarderCore
import Foundation
@testable import ForwarderIO
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing

/// The uploader over plain `http` against replies framed in the ways a real server may frame
/// them: chunked and written in pieces, or without a length and ended by the close.
@Suite("Uploader reply framing")
struct UploaderReplyFramingTests {
    static let binaryName = LeanHTTPClientTests.binaryName
    static let request = LeanHTTPClientTests.request
    static let json = #"{"count":1,"results":[{"filename":"\#(binaryName)","status":"ok","inserted":1}]}"#

    @Test("Uploader: a chunked reply written in pieces is read whole, and its connection is kept for the next upload")
    func chunkedInPieces() async throws {
        let body = Array(Self.json.utf8)
        let chunks = stride(from: 0, to: body.count, by: 7).map { Array(body[$0..<min($0 + 7, body.count)]) }
        var pieces = ["HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTrans", "fer-Encoding: chunked\r\n\r\n"]
        for chunk in chunks { pieces += [String(chunk.count, radix: 16) + "\r\n", String(decoding: chunk, as: UTF8.self) + "\r\n"] }
        pieces.append("0\r\n\r\n")
        let server = try await RawReplyServer.start(pieces: pieces, closeAfterReply: false)
        let uploader = try HTTPEventUploader(baseURL: server.baseURL, serialHint: nil, requestTimeout: .seconds(600))
        let first = await uploader.upload(Self.request)
        let second = await uploader.upload(Self.request)
        await uploader.shutdown()
        try await server.stop()

        #expect(first.isAccepted, "\(first)")
        #expect(second.isAccepted, "\(second)")
        #expect(server.connections.withLock { $0 } == 1)
    }

    @Test("Uploader: a reply without a length ends at the close, and the next upload connects again")
    func untilClose() async throws {
        let pieces = ["HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n", Self.json]
        let server = try await RawReplyServer.start(pieces: pieces, closeAfterReply: true)
        let uploader = try HTTPEventUploader(baseURL: server.baseURL, serialHint: nil, requestTimeout: .seconds(600))
        let first = await uploader.upload(Self.request)
        let second = await uploader.upload(Self.request)
        await uploader.shutdown()
        try await server.stop()

        #expect(first.isAccepted, "\(first)")
        #expect(second.isAccepted, "\(second)")
        #expect(server.connections.withLock { $0 } == 2)
    }

    @Test("Uploader: a 429 written in pieces keeps its Retry-After, and a reply cut short is a transport failure")
    func retryAfterAndCutShort() async throws {
        let refusal = try await RawReplyServer.start(
            pieces: ["HTTP/1.1 429 Too Many Requests\r\nRetry-", "After: 42\r\nContent-Length: 2\r\n\r\n{", "}"],
            closeAfterReply: false)
        let uploader = try HTTPEventUploader(baseURL: refusal.baseURL, serialHint: nil, requestTimeout: .seconds(600))
        let refused = await uploader.upload(Self.request)
        await uploader.shutdown()
        try await refusal.stop()
        guard case .failed(let problem) = refused else {
            Issue.record("expected a retryable refusal, got \(refused)")
            return
        }
        #expect(problem.retryAfter == .seconds(42), "\(problem)")

        let cut = try await RawReplyServer.start(pieces: ["HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{\"count\":1"],
                                                 closeAfterReply: true)
        let cutUploader = try HTTPEventUploader(baseURL: cut.baseURL, serialHint: nil, requestTimeout: .seconds(600))
        let cutShort = await cutUploader.upload(Self.request)
        await cutUploader.shutdown()
        try await cut.stop()
        guard case .failed(let cutProblem) = cutShort else {
            Issue.record("expected a transport failure, got \(cutShort)")
            return
        }
        #expect(cutProblem.kind == .transport, "\(cutProblem)")
    }
}

/// A loopback server that reads each request with NIO's codec and answers with raw bytes, each
/// piece flushed on its own a moment after the one before, so the client reads them apart.
final class RawReplyServer: Sendable {
    let connections = Mutex(0)
    private let channel: any Channel
    let port: Int
    var baseURL: String { "http://127.0.0.1:\(port)" }

    private init(channel: any Channel) {
        self.channel = channel
        port = channel.localAddress?.port ?? 0
    }

    static func start(pieces: [String], closeAfterReply: Bool) async throws -> RawReplyServer {
        let box = Mutex<RawReplyServer?>(nil)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let server = box.withLock({ $0 }) else { throw ChannelError.ioOnClosedChannel }
                    server.connections.withLock { $0 += 1 }
                    let writer = RawReplyWriter()
                    try channel.pipeline.syncOperations.addHandler(writer)
                    // No pipelining assistance: it would hold the next request until a reply
                    // went through the encoder, and these replies go around it.
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: false)
                    try channel.pipeline.syncOperations.addHandler(
                        RawReplyHandler(pieces: pieces.map { ByteBuffer(string: $0) }, closeAfterReply: closeAfterReply,
                                        writer: writer))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let server = RawReplyServer(channel: channel)
        box.withLock { $0 = server }
        return server
    }

    func stop() async throws {
        try await channel.close()
    }
}

/// A pass-through handler next to the socket: its context writes bytes past the HTTP encoder.
private final class RawReplyWriter: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
}

private final class RawReplyHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart

    let pieces: [ByteBuffer]
    let closeAfterReply: Bool
    let writer: RawReplyWriter

    init(pieces: [ByteBuffer], closeAfterReply: Bool, writer: RawReplyWriter) {
        self.pieces = pieces
        self.closeAfterReply = closeAfterReply
        self.writer = writer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = unwrapInboundIn(data), let raw = writer.context else { return }
        write(piece: 0, to: raw)
    }

    private func write(piece index: Int, to raw: ChannelHandlerContext) {
        guard index < pieces.count else {
            if closeAfterReply { raw.close(promise: nil) }
            return
        }
        raw.writeAndFlush(NIOAny(pieces[index]), promise: nil)
        raw.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(5)) { [self] in
            write(piece: index + 1, to: raw)
        }
    }
}
