import Logging
import ServiceLifecycle

/// The pass loop as a swift-service-lifecycle service.
///
/// A graceful shutdown (SIGINT, SIGTERM) or a cancellation sets the stop signal: the pass stops
/// starting uploads, records those in flight, syncs the state, and the loop returns.
struct PassLoopService: Service {
    let stop: StopSignal
    /// The metrics server's bound ports, when one serves: no pass starts before it listens, so an
    /// address in use stops the forwarder before it uploads anything.
    let serverListening: AsyncStream<Int>?
    let logger: Logger
    let loop: @Sendable () async throws -> Void

    func run() async throws {
        let stop = self.stop
        let logger = self.logger
        try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                if let serverListening {
                    var ports = serverListening.makeAsyncIterator()
                    guard await ports.next() != nil else { return }
                }
                try await loop()
            } onGracefulShutdown: {
                logger.notice("stop requested; finishing the uploads in flight")
                stop.request()
            }
        } onCancel: {
            stop.request()
        }
    }
}
