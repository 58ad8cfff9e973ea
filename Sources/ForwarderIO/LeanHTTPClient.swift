import ForwarderCore
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// An HTTP/1.1 client for plain `http` URLs on NIO directly: one pipeline per kept-alive
/// connection, one request at a time on each, nothing per request but the exchange itself.
///
/// AsyncHTTPClient, NIO and the kernel's socket path were three quarters of the forwarder's CPU
/// per upload; most of AsyncHTTPClient's share is its per-request state machines and pool
/// bookkeeping, which an uploader that posts one body and reads one short reply does not need.
/// The request goes out as one buffer framed here (head and body), and the reply is read by
/// `HTTPReplyReader`: NIO's HTTP codec was the largest part of what was left.
/// `https` stays on AsyncHTTPClient (see `HTTPEventUploader`).
final class LeanHTTPClient: Sendable {
    /// What the server answered.
    typealias Reply = HTTPReplyReader.Reply

    /// Why a request got no reply.
    enum Failure: Error, CustomStringConvertible {
        case timeout(Duration)
        case connectionClosed
        case cancelled
        case shutDown

        var description: String {
            switch self {
            case .timeout(let limit): return "no answer within \(limit)"
            case .connectionClosed: return "the connection closed before the reply ended"
            case .cancelled: return "cancelled"
            case .shutDown: return "the client is shut down"
            }
        }
    }

    /// The host as the URL spells it (an IPv6 address in brackets), for the `Host` header.
    let host: String
    let port: Int
    let requestTimeout: Duration
    private let replyByteLimit: Int
    private let maximumIdleConnections: Int
    private let pool = Mutex(Pool())

    /// Open connections: the idle ones to reuse, and every one, to close at shutdown.
    private struct Pool {
        var idle: [Connection] = []
        var open: [Int: any Channel] = [:]
        var nextNumber = 0
        var isShutDown = false
    }

    /// A connection and its exchange handler, which only its event loop may touch.
    private struct Connection: Sendable {
        let number: Int
        let channel: any Channel
        let handler: NIOLoopBound<ExchangeHandler>
    }

    init(host: String, port: Int, requestTimeout: Duration, replyByteLimit: Int, maximumIdleConnections: Int) {
        self.host = host
        self.port = port
        self.requestTimeout = requestTimeout
        self.replyByteLimit = replyByteLimit
        self.maximumIdleConnections = maximumIdleConnections
    }

    /// POSTs `body` (none: an empty body) to `target` with `headers` and waits for the whole
    /// reply, at most `requestTimeout` after the connection is ready. `Host` and
    /// `Content-Length` are added here.
    func post(target: String, headers: [(name: String, value: String)], body: MultipartFormBody?) async throws -> Reply {
        let request = frame(target: target, headers: headers, body: body)
        let connection = try await lease()
        let timeout = TimeAmount.nanoseconds(requestTimeout.wholeNanoseconds)
        let promise = connection.channel.eventLoop.makePromise(of: Reply.self)
        let reply: Reply
        do {
            reply = try await withTaskCancellationHandler {
                connection.channel.eventLoop.execute {
                    connection.handler.value.start(request, timeout: timeout, requestTimeout: self.requestTimeout,
                                                   promise: promise)
                }
                return try await promise.futureResult.get()
            } onCancel: {
                promise.fail(Failure.cancelled)
                connection.channel.close(promise: nil)
            }
        } catch {
            connection.channel.close(promise: nil)
            throw error
        }
        giveBack(connection, keepAlive: reply.keepAlive)
        return reply
    }

    /// The request line, headers and body in one buffer allocated at its final size: each
    /// file's bytes are copied once, from the `Data` they were read into.
    private func frame(target: String, headers: [(name: String, value: String)], body: MultipartFormBody?) -> ByteBuffer {
        var head = "POST \(target) HTTP/1.1\r\nHost: \(port == 80 ? host : "\(host):\(port)")\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "Content-Length: \(body?.byteCount ?? 0)\r\n\r\n"
        var buffer = ByteBufferAllocator().buffer(capacity: head.utf8.count + (body?.byteCount ?? 0))
        buffer.writeString(head)
        if let body { HTTPEventUploader.write(body, into: &buffer) }
        return buffer
    }

    /// The host to connect to: a URL's IPv6 address without its brackets, any other host as is.
    static func socketHost(forURLHost host: String) -> String {
        host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
    }

    /// Closes every connection, busy or idle: a request in flight fails at once.
    func shutdown() async {
        let channels = pool.withLock { pool in
            pool.isShutDown = true
            pool.idle = []
            return Array(pool.open.values)
        }
        for channel in channels {
            try? await channel.close()
        }
    }

    /// An idle connection that is still open, or a new one.
    private func lease() async throws -> Connection {
        let reused: Connection? = try pool.withLock { pool in
            guard !pool.isShutDown else { throw Failure.shutDown }
            while let connection = pool.idle.popLast() {
                if connection.channel.isActive { return connection }
            }
            return nil
        }
        if let reused { return reused }
        return try await connect()
    }

    private func giveBack(_ connection: Connection, keepAlive: Bool) {
        let kept = keepAlive && pool.withLock { pool in
            guard !pool.isShutDown, pool.idle.count < maximumIdleConnections else { return false }
            pool.idle.append(connection)
            return true
        }
        if !kept { connection.channel.close(promise: nil) }
    }

    private func connect() async throws -> Connection {
        let byteLimit = replyByteLimit
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.nanoseconds(min(requestTimeout, .seconds(10)).wholeNanoseconds))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ExchangeHandler(replyByteLimit: byteLimit))
                }
            }
            .connect(host: Self.socketHost(forURLHost: host), port: port).get()
        let handler = try await channel.eventLoop.submit {
            NIOLoopBound(try channel.pipeline.syncOperations.handler(type: ExchangeHandler.self), eventLoop: channel.eventLoop)
        }.get()
        let number: Int? = pool.withLock { pool in
            guard !pool.isShutDown else { return nil }
            pool.nextNumber += 1
            pool.open[pool.nextNumber] = channel
            return pool.nextNumber
        }
        guard let number else {
            try? await channel.close()
            throw Failure.shutDown
        }
        channel.closeFuture.whenComplete { _ in
            _ = self.pool.withLock { $0.open.removeValue(forKey: number) }
        }
        return Connection(number: number, channel: channel, handler: handler)
    }
}

/// One request and its reply at a time on one connection: writes the request, reads the reply,
/// and fails the exchange when the connection closes, errs or outlasts the timeout.
private final class ExchangeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let replyByteLimit: Int
    private var context: ChannelHandlerContext?
    private var pending: EventLoopPromise<LeanHTTPClient.Reply>?
    private var timer: Scheduled<Void>?
    private var reader: HTTPReplyReader

    init(replyByteLimit: Int) {
        self.replyByteLimit = replyByteLimit
        reader = HTTPReplyReader(bodyByteLimit: replyByteLimit)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        finish(.failure(LeanHTTPClient.Failure.connectionClosed))
        self.context = nil
    }

    func start(_ request: ByteBuffer, timeout: TimeAmount, requestTimeout: Duration,
               promise: EventLoopPromise<LeanHTTPClient.Reply>) {
        guard let context, context.channel.isActive, pending == nil else {
            promise.fail(LeanHTTPClient.Failure.connectionClosed)
            return
        }
        pending = promise
        reader = HTTPReplyReader(bodyByteLimit: replyByteLimit)
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            finish(.failure(LeanHTTPClient.Failure.timeout(requestTimeout)))
            context.close(promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(request), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        guard pending != nil else {
            // Bytes nobody asked for: the connection cannot be trusted with the next request.
            context.close(promise: nil)
            return
        }
        do {
            if let reply = try bytes.withUnsafeReadableBytes({ try reader.read($0) }) {
                finish(.success(reply))
            }
        } catch {
            finish(.failure(error))
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if pending != nil {
            finish(Result { try reader.readEnd() })
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.failure(error))
        context.close(promise: nil)
    }

    private func finish(_ result: Result<LeanHTTPClient.Reply, any Error>) {
        guard let promise = pending else { return }
        pending = nil
        timer?.cancel()
        timer = nil
        promise.completeWith(result)
    }
}
