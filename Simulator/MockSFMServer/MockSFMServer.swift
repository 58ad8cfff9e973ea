import ForwarderCore
import ForwarderSimulation
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals

/// The mock SFM on a real socket: Hummingbird serving `MockSFM` on 127.0.0.1.
///
/// Tests and the CLI start it with `start`, read `baseURL`, and stop it with `shutdown()`; the
/// state object `mock` is the same one the HTTP handlers use, so a test can inspect the store
/// and journal in process instead of through `/mock/...`.
public final class MockSFMServer: Sendable {
    /// The handler, store, journal and fault plan behind the socket.
    public let mock: MockSFM
    public let host: String
    /// The port actually bound (useful after asking for port 0).
    public let port: Int
    private let serviceGroup: ServiceGroup
    private let runTask: Task<Void, any Error>
    private let hungConnections: OpenConnections

    /// `http://host:port`, without a trailing slash.
    public var baseURL: String { "http://\(host):\(port)" }

    /// The import endpoint's URL.
    public var importURL: String { baseURL + MockContract.importPath }

    private init(mock: MockSFM, host: String, port: Int, serviceGroup: ServiceGroup,
                 runTask: Task<Void, any Error>, hungConnections: OpenConnections) {
        self.mock = mock
        self.host = host
        self.port = port
        self.serviceGroup = serviceGroup
        self.runTask = runTask
        self.hungConnections = hungConnections
    }

    /// Binds `host:port` (port 0 picks a free port) and serves `mock` until `shutdown()`.
    ///
    /// - Parameters:
    ///   - archiveDirectory: when set, every stored binary and report is also written there.
    ///   - stopsOnTerminationSignals: stop gracefully on SIGINT and SIGTERM (for the CLI).
    public static func start(host: String = "127.0.0.1", port: Int = 0, mock: MockSFM = MockSFM(),
                             archiveDirectory: URL? = nil, stopsOnTerminationSignals: Bool = false,
                             logger: Logger? = nil) async throws -> MockSFMServer {
        let logger = logger ?? {
            var logger = Logger(label: "mock-sfm")
            logger.logLevel = .warning
            return logger
        }()
        let archive = try archiveDirectory.map { try ReceivedFileArchive(directory: $0) }
        let hungConnections = OpenConnections()
        let router = MockRoutes.router(mock: mock, archive: archive, hungConnections: hungConnections)
        let (boundPorts, boundPortContinuation) = AsyncStream<Int>.makeStream()
        let application = Application(
            router: router,
            server: HTTPServerBuilder { responder in
                EventLoopBoundChannel(inner: HTTP1Channel(
                    responder: responder, configuration: .init(additionalChannelHandlers: [ClientCloseWatcher()])))
            },
            configuration: .init(address: .hostname(host, port: port), serverName: "mock-sfm"),
            onServerRunning: { channel in
                boundPortContinuation.yield(channel.localAddress?.port ?? port)
                boundPortContinuation.finish()
            },
            logger: logger)
        let serviceGroup = ServiceGroup(
            services: [application],
            gracefulShutdownSignals: stopsOnTerminationSignals ? [.sigterm, .sigint] : [],
            logger: logger)
        let runTask = Task(executorPreference: ServerExecutor.shared) {
            defer { boundPortContinuation.finish() }
            try await serviceGroup.run()
        }
        var iterator = boundPorts.makeAsyncIterator()
        guard let boundPort = await iterator.next() else {
            try await runTask.value
            throw MockServerError.stoppedBeforeListening
        }
        return MockSFMServer(mock: mock, host: host, port: boundPort, serviceGroup: serviceGroup,
                             runTask: runTask, hungConnections: hungConnections)
    }

    /// Starts a server with a fresh `MockSFM` built from a configuration and fault plan.
    public static func start(host: String = "127.0.0.1", port: Int = 0, configuration: MockSFM.Configuration,
                             faultPlan: FaultPlan = .none, archiveDirectory: URL? = nil,
                             stopsOnTerminationSignals: Bool = false, logger: Logger? = nil) async throws -> MockSFMServer {
        let mock = MockSFM(configuration: configuration, faultPlan: faultPlan, planInstalledAt: FileTime(Date()))
        return try await start(host: host, port: port, mock: mock, archiveDirectory: archiveDirectory,
                               stopsOnTerminationSignals: stopsOnTerminationSignals, logger: logger)
    }

    /// Stops accepting, closes connections held by `noAnswer` faults, waits for the rest.
    public func shutdown() async throws {
        hungConnections.closeAll()
        await serviceGroup.triggerGracefulShutdown()
        try await runTask.value
    }

    /// Waits until the server stops (after `shutdown()` or a termination signal).
    public func waitUntilStopped() async throws {
        try await runTask.value
    }
}

/// Why the server could not be started.
public enum MockServerError: Error, CustomStringConvertible {
    case stoppedBeforeListening

    public var description: String { "the mock SFM server stopped before it was listening" }
}

/// Keeps the files the mock stored, on disk under names that cannot leave the directory.
struct ReceivedFileArchive: Sendable {
    let directory: URL

    init(directory: URL) throws {
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func store(_ files: [ReceivedFile]) {
        for file in files {
            try? file.contents.write(to: directory.appendingPathComponent(Self.safeName(file.name)), options: .atomic)
        }
    }

    /// Letters, digits, `.`, `_` and `-` only, never starting with a dot.
    static func safeName(_ name: String) -> String {
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
        var safe = String(name.map { allowed.contains($0) ? $0 : "_" })
        while safe.hasPrefix(".") { safe = "_" + safe.dropFirst() }
        return safe.isEmpty ? "_" : safe
    }
}
