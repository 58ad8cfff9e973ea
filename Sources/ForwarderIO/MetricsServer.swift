import ForwarderCore
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// Serves `GET /metrics` (Prometheus text) and `GET /health` (JSON) on exactly one address.
///
/// Hummingbird, as the mock SFM already uses it: no new package to build, and its
/// `Application` is a swift-service-lifecycle `Service`, so it starts and stops with the pass loop.
struct MetricsServer: Service {
    let address: MetricsAddress
    let metrics: ForwarderMetrics
    let passInterval: Duration
    let clock: any ForwarderClock
    let logger: Logger
    /// Called with the bound port once the server listens (the port differs from 0 when 0 was asked for).
    let onListening: @Sendable (Int) -> Void
    /// Called when the server stops, listening or not.
    let onStopped: @Sendable () -> Void

    /// The `Content-Type` of Prometheus' text exposition format.
    static let metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

    func run() async throws {
        defer { onStopped() }
        let router = Router()
        let metrics = self.metrics
        let passInterval = self.passInterval
        let clock = self.clock
        router.get("metrics") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: Self.metricsContentType],
                     body: .init(byteBuffer: ByteBuffer(bytes: metrics.exposition())))
        }
        router.get("health") { _, _ -> Response in
            let report = HealthRules.assess(metrics.healthSnapshot(now: clock.now(), passInterval: passInterval))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let body = (try? encoder.encode(report)) ?? Data(#"{"status":"unhealthy"}"#.utf8)
            return Response(status: report.isHealthy ? .ok : .serviceUnavailable,
                            headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
        let listening = ListeningFlag()
        let onListening = self.onListening
        let logger = self.logger
        let address = self.address
        let application = Application(
            router: router,
            configuration: .init(address: .hostname(address.host, port: address.port), serverName: "event-forwarder"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? address.port
                listening.set()
                logger.notice("serving /metrics and /health",
                              metadata: ["metrics.address": "\(MetricsAddress(host: address.host, port: port))",
                                         "metrics.port": "\(port)"])
                onListening(port)
            },
            logger: logger.quietened())
        do {
            try await application.run()
        } catch let error where !listening.isSet {
            throw MetricsServerError(address: address, detail: "\(error)")
        }
    }
}

extension Logger {
    /// A copy that logs warnings and worse only: Hummingbird and swift-service-lifecycle log every
    /// start, stop and request at info, and the forwarder's own lines say what matters.
    func quietened() -> Logger {
        var quiet = self
        quiet.logLevel = Swift.max(logLevel, .warning)
        return quiet
    }
}

/// Set once the server listens; before that, a failure means the address could not be bound.
private final class ListeningFlag: Sendable {
    private let value = Mutex(false)

    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}

/// The metrics address could not be served (in use, not an address of this machine…).
public struct MetricsServerError: Error, CustomStringConvertible {
    public var address: MetricsAddress
    public var detail: String

    public var description: String {
        "cannot serve metrics on \(SettingsResolver.Key.metricsAddress.rawValue)=\(address): \(detail)"
    }
}
