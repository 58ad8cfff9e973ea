import ForwarderCore
import Foundation
@testable import ForwarderIO
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing

/// The uploader over plain `http` (its lean client), against a bare NIO server that records
/// connections and request heads: what AsyncHTTPClient gave for free must still hold.
@Suite("Lean HTTP client")
struct LeanHTTPClientTests {
    static let binaryName = "N844L20G.630H"
    static let request = ImportRequest(binary: .init(name: binaryName, contents: Data((0..<3000).map { UInt8($0 % 253) })),
                                       report: nil)

    @Test("Uploader: plain http uploads reuse one kept-alive connection and carry the forwarder's headers")
    func keptAliveWithHeaders() async throws {
        let server = try await RecordingServer.start(behaviour: .answer(closeAfterReply: false))
        let uploader = try HTTPEventUploader(baseURL: server.baseURL, serialHint: "BE12844", requestTimeout: .seconds(600),
                                             bearerToken: BearerToken("s3cret"))
        var outcomes: [UploadOutcome] = []
        for _ in 0..<5 { outcomes.append(await uploader.upload(Self.request)) }
        await uploader.shutdown()
        try await server.stop()

        #expect(outcomes.allSatisfy { $0.isAccepted }, "\(outcomes)")
        let log = server.log.withLock { $0 }
        #expect(log.connections == 1)
        #expect(log.requests.count == 5)
        let expectedBody = HTTPEventUploader.buffer(holding: MultipartFormBody(request: Self.request)).readableBytes
        for request in log.requests {
            #expect(request.head.method == .POST)
            #expect(request.head.uri == "\(ImportContract.path)?serial=BE12844")
            #expect(request.head.headers["Host"] == ["127.0.0.1:\(server.port)"])
            #expect(request.head.headers["Content-Length"] == [String(expectedBody)])
            #expect(request.bodyBytes == expectedBody)
            #expect(request.head.headers.first(name: "Content-Type")?.hasPrefix("multipart/form-data; boundary=") == true)
            #expect(request.head.headers["User-Agent"] == [ImportContract.userAgent])
            #expect(request.head.headers["Authorization"] == ["Bearer s3cret"])
            #expect(request.head.headers["Accept"] == ["application/json"])
        }
    }

    @Test("Uploader: a URL's IPv6 address is connected to without its brackets; Host keeps them")
    func bracketedIPv6Host() throws {
        #expect(LeanHTTPClient.socketHost(forURLHost: "[::1]") == "::1")
        #expect(LeanHTTPClient.socketHost(forURLHost: "sfm.example") == "sfm.example")
        let address = try #require(HTTPEventUploader.plainHTTPAddress("http://[fd00::2]:8200/db"))
        #expect(address.host == "[fd00::2]" && address.port == 8200)
        #expect(HTTPEventUploader.plainHTTPAddress("https://sfm:8200") == nil)
        #expect(HTTPEventUploader.plainHTTPAddress("HTTP://sfm")?.port == 80)
    }

    @Test("Uploader: a server that closes after each reply gets a new connection per upload, and every upload lands")
    func reconnectsAfterClose() async throws {
        let server = try await RecordingServer.start(behaviour: .answer(closeAfterReply: true))
        let uploader = try HTTPEventUploader(baseURL: server.baseURL, serialHint: nil, requestTimeout: .seconds(600))
        var outcomes: [UploadOutcome] = []
        for _ in 0..<3 { outcomes.append(await uploader.upload(Self.request)) }
        await uploader.shutdown()
        try await server.stop()

        #expect(outcomes.allSatisfy { $0.isAccepted }, "\(outcomes)")
        #expect(server.log.withLock { $0.connections } == 3)
    }

    @Test("Uploader: a request the server never answers ends as a timeout after the configured time")
    func hungRequestTimesOut() async throws {
        let server = try await RecordingServer.start(behaviour: .hang)
        let uploader = try HTTPEventUploader(baseURL: server.baseURL, serialHint: nil, requestTimeout: .milliseconds(300))
        let outcome = await uploader.upload(Self.request)
        await uploader.shutdown()
        try await server.stop()

        guard case .failed(let problem) = outcome else {
            Issue.record("expected a retryable failure, got \(outcome)")
            return
        }
        #expect(problem.kind == .timeout)
        #expect(server.log.withLock { $0.requests.count } == 1)
    }

    @Test("Uploader: shutdown ends a request the server never answers, long before its timeout")
    func shutdownEndsHungRequest() async throws {
        let server = try await RecordingServer.start(behaviour: .hang)
        let uploader = try HTTPEventUploader(baseURL: server.baseURL, serialHint: nil, requestTimeout: .seconds(3600))
        let upload = Task { await uploader.upload(Self.request) }
        while server.log.withLock({ $0.requests.isEmpty }) { try await Task.sleep(for: .milliseconds(10)) }
        await uploader.shutdown()
        let outcome = await upload.value
        try await server.stop()

        // Left to its timeout, the outcome would be a `.timeout` an hour later.
        guard case .failed(let problem) = outcome else {
            Issue.record("expected a retryable failure, got \(outcome)")
            return
        }
        #expect(problem.kind == .transport, "\(problem)")
        #expect(await uploader.upload(Self.request).isAccepted == false)
    }

    @Test("Uploader: cancelling the task of a request the server never answers ends it as a transport failure, not a timeout")
    func cancellationEndsHungRequest() async throws {
        let hanging = try await RecordingServer.start(behaviour: .hang)
        let uploader = try HTTPEventUploader(baseURL: hanging.baseURL, serialHint: nil, requestTimeout: .seconds(3600))
        let upload = Task { await uploader.upload(Self.request) }
        while hanging.log.withLock({ $0.requests.isEmpty }) { try await Task.sleep(for: .milliseconds(10)) }
        upload.cancel()
        let outcome = await upload.value
        await uploader.shutdown()
        try await hanging.stop()

        guard case .failed(let problem) = outcome else {
            Issue.record("expected a retryable failure, got \(outcome)")
            return
        }
        #expect(problem.kind == .transport, "\(problem)")
        #expect(problem.detail.contains("cancelled"), "\(problem)")
    }
}

/// A loopback HTTP/1.1 server that records what reaches it and answers one import reply, or never.
final class RecordingServer: Sendable {
    enum Behaviour: Sendable {
        case answer(closeAfterReply: Bool)
        case hang
    }

    struct Request: Sendable {
        var head: HTTPRequestHead
        var bodyBytes: Int
    }

    struct Log: Sendable {
        var connections = 0
        var requests: [Request] = []
    }

    let log = Mutex(Log())
    private let channel: any Channel
    let port: Int
    var baseURL: String { "http://127.0.0.1:\(port)" }

    private init(channel: any Channel) {
        self.channel = channel
        port = channel.localAddress?.port ?? 0
    }

    static func start(behaviour: Behaviour) async throws -> RecordingServer {
        let box = Mutex<RecordingServer?>(nil)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let server = box.withLock({ $0 }) else { throw ChannelError.ioOnClosedChannel }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(RecordingHandler(server: server, behaviour: behaviour))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let server = RecordingServer(channel: channel)
        box.withLock { $0 = server }
        return server
    }

    func stop() async throws {
        try await channel.close()
    }
}

private final class RecordingHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let server: RecordingServer
    let behaviour: RecordingServer.Behaviour
    private var head: HTTPRequestHead?
    private var bodyBytes = 0

    init(server: RecordingServer, behaviour: RecordingServer.Behaviour) {
        self.server = server
        self.behaviour = behaviour
    }

    func channelActive(context: ChannelHandlerContext) {
        server.log.withLock { $0.connections += 1 }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            head = requestHead
            bodyBytes = 0
        case .body(let part):
            bodyBytes += part.readableBytes
        case .end:
            guard let head else { return }
            let request = RecordingServer.Request(head: head, bodyBytes: bodyBytes)
            server.log.withLock { $0.requests.append(request) }
            guard case .answer(let closeAfterReply) = behaviour else { return }
            let reply = #"{"count":1,"results":[{"filename":"\#(LeanHTTPClientTests.binaryName)","status":"ok","inserted":1}]}"#
            var headers = HTTPHeaders([("Content-Type", "application/json"), ("Content-Length", String(reply.utf8.count))])
            if closeAfterReply { headers.add(name: "Connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: reply)))), promise: nil)
            if closeAfterReply {
                context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            } else {
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
