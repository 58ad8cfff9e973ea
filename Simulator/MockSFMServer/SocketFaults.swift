import ForwarderSimulation
import Foundation
import NIOCore
import Synchronization

/// Carries out faults below HTTP on the request's connection.
///
/// Hummingbird's pipeline only writes well-formed responses, so raw bytes go through a handler
/// added at the front of the pipeline (next to the socket), past the HTTP encoder; a reset is
/// SO_LINGER 0 followed by close, which makes the kernel send RST instead of FIN.
enum SocketFaults {
    static func perform(_ fault: SocketFault, on channel: any Channel, hungConnections: OpenConnections) async {
        switch fault {
        case .connectionReset:
            if let options = channel as? any SocketOptionProvider {
                try? await options.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
            }
            try? await channel.close()
        case .closeWithoutResponse:
            try? await channel.close()
        case .malformedChunk(let bytes), .garbageThenClose(let bytes):
            await writeRaw(bytes, on: channel)
            try? await channel.close()
        case .noAnswer(let maximum):
            await hang(channel, maximum: maximum, hungConnections: hungConnections)
        }
    }

    /// Writes bytes straight to the socket, bypassing the HTTP encoder.
    static func writeRaw(_ bytes: Data, on channel: any Channel) async {
        let buffer = ByteBuffer(bytes: bytes)
        let written = channel.eventLoop.makePromise(of: Void.self)
        do {
            try await channel.eventLoop.submit {
                let writer: RawBytesHandler
                if let existing = try? channel.pipeline.syncOperations.handler(type: RawBytesHandler.self) {
                    writer = existing
                } else {
                    writer = RawBytesHandler()
                    try channel.pipeline.syncOperations.addHandler(writer, position: .first)
                }
                let context = try channel.pipeline.syncOperations.context(handler: writer)
                context.writeAndFlush(NIOAny(buffer), promise: written)
            }.get()
        } catch {
            written.fail(error)
        }
        try? await written.futureResult.get()
    }

    /// Holds the connection without answering until the client closes it, the server shuts
    /// down, or `maximum` passes.
    private static func hang(_ channel: any Channel, maximum: Duration, hungConnections: OpenConnections) async {
        hungConnections.insert(channel)
        defer { hungConnections.remove(channel) }
        channel.eventLoop.execute {
            guard let watcher = try? channel.pipeline.syncOperations.handler(type: ClientCloseWatcher.self) else { return }
            watcher.closeWhenClientCloses(channel)
        }
        let timer = channel.eventLoop.scheduleTask(in: .nanoseconds(maximum.wholeNanoseconds)) {
            channel.close(promise: nil)
        }
        try? await channel.closeFuture.get()
        timer.cancel()
    }
}

/// A pass-through handler whose context is a write position next to the socket.
final class RawBytesHandler: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
}

/// Notices when the client closes its side, so a hung request can end when the client gives up.
///
/// Hummingbird allows half-closed connections, so without this a client that gives up on a
/// hung request would leave the server waiting for the full `noAnswer` maximum. It sits in
/// every connection's pipeline from the start because the client may close before the request
/// reaches the handler (a request and its FIN often arrive in one read).
final class ClientCloseWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private var clientClosed = false
    private var closesWhenClientCloses = false

    /// Closes `channel` now if the client already closed its side, or as soon as it does.
    /// Must be called on the channel's event loop.
    func closeWhenClientCloses(_ channel: any Channel) {
        if clientClosed {
            channel.close(promise: nil)
        } else {
            closesWhenClientCloses = true
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            clientClosed = true
            if closesWhenClientCloses { context.close(promise: nil) }
        }
        context.fireUserInboundEventTriggered(event)
    }
}

/// Connections held open by `noAnswer`, so shutdown can close them instead of waiting.
final class OpenConnections: Sendable {
    private let channels = Mutex<[ObjectIdentifier: any Channel]>([:])

    func insert(_ channel: any Channel) {
        channels.withLock { $0[ObjectIdentifier(channel)] = channel }
    }

    func remove(_ channel: any Channel) {
        _ = channels.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    func closeAll() {
        for channel in channels.withLock({ Array($0.values) }) {
            channel.close(promise: nil)
        }
    }
}
