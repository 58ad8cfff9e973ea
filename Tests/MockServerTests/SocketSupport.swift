import AsyncHTTPClient
import ForwarderCore
import ForwarderSimulation
import Foundation
import MockSFMServer
import NIOCore
import NIOHTTP1
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Starts a mock server on 127.0.0.1 port 0, runs `body`, and always shuts the server down.
func withMockServer<Result>(
    mock: MockSFM = MockSFM(),
    archiveDirectory: URL? = nil,
    _ body: (MockSFMServer) async throws -> Result
) async throws -> Result {
    let server = try await MockSFMServer.start(host: "127.0.0.1", port: 0, mock: mock, archiveDirectory: archiveDirectory)
    do {
        let result = try await body(server)
        try await server.shutdown()
        return result
    } catch {
        try await server.shutdown()
        throw error
    }
}

/// What an AsyncHTTPClient request came back with.
struct ClientReply {
    var status: Int
    var headers: HTTPHeaders
    var body: Data
}

enum TestClient {
    static func post(_ url: String, contentType: String?, body: Data, timeout: Duration = .seconds(600)) async throws -> ClientReply {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        request.body = .bytes(ByteBuffer(bytes: body))
        return try await execute(request, timeout: timeout)
    }

    /// Posts the production forwarder's multipart body for `request`.
    static func upload(_ server: MockSFMServer, _ request: ImportRequest, timeout: Duration = .seconds(600)) async throws -> ClientReply {
        let form = MultipartFormBody(request: request)
        let url = ImportContract.endpoint(baseURL: server.baseURL, serialHint: request.serialHint)
        return try await post(url, contentType: form.contentType, body: form.bytes, timeout: timeout)
    }

    static func send(_ method: HTTPMethod, _ url: String, body: Data? = nil) async throws -> ClientReply {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        return try await execute(request, timeout: .seconds(600))
    }

    static func execute(_ request: HTTPClientRequest, timeout: Duration) async throws -> ClientReply {
        let response = try await HTTPClient.shared.execute(request, timeout: .nanoseconds(timeout.wholeNanoseconds))
        let body = try await response.body.collect(upTo: 16 << 20)
        return ClientReply(status: Int(response.status.code), headers: response.headers, body: Data(body.readableBytesView))
    }

    static func decode<T: Decodable>(_ type: T.Type, _ reply: ClientReply) throws -> T {
        try JSONDecoder().decode(type, from: reply.body)
    }
}

/// A plain TCP client that shows exactly what the server put on the wire, including resets,
/// which an HTTP client reports only as some error.
enum RawConnection {
    struct Result {
        var received: Data
        /// `errno` when reading ended with an error (ECONNRESET after a reset), nil at EOF.
        var readError: Int32?
        var elapsed: Duration
    }

    /// Sends a POST of `body` and reads until EOF, an error, or `timeout`.
    ///
    /// With `halfCloseAfterSending`, the client shuts down its sending side after the request,
    /// as a client that gives up does.
    static func post(port: Int, path: String = ImportContract.path, contentType: String, body: Data,
                     halfCloseAfterSending: Bool = false, timeout: Duration = .seconds(600)) async throws -> Result {
        try await onOwnThread {
            postBlocking(port: port, path: path, contentType: contentType, body: body,
                         halfCloseAfterSending: halfCloseAfterSending, timeout: timeout)
        }
    }

    /// `post` on the calling thread; with `closeAfterReply`, the request asks the server to close
    /// the connection once it has answered, so a reply that is not a fault also ends at EOF.
    static func postBlocking(port: Int, path: String = ImportContract.path, contentType: String, body: Data,
                             halfCloseAfterSending: Bool = false, closeAfterReply: Bool = false,
                             timeout: Duration = .seconds(600)) -> Result {
        let connection = closeAfterReply ? "Connection: close\r\n" : ""
        var request = Data("POST \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n\(connection)Content-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n\r\n".utf8)
        request.append(body)
        let clock = ContinuousClock()
        let start = clock.now
        #if canImport(Glibc)
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { return Result(received: Data(), readError: errno, elapsed: .zero) }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { return Result(received: Data(), readError: errno, elapsed: .zero) }
        let seconds = timeout.components.seconds
        var receiveTimeout = timeval(tv_sec: Int(seconds), tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &receiveTimeout, socklen_t(MemoryLayout<timeval>.size))
        let sent = request.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let count = send(descriptor, bytes.baseAddress! + offset, bytes.count - offset, 0)
                if count <= 0 { return false }
                offset += count
            }
            return true
        }
        guard sent else { return Result(received: Data(), readError: errno, elapsed: clock.now - start) }
        if halfCloseAfterSending { shutdown(descriptor, Int32(SHUT_WR)) }
        var received = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count > 0 {
                received.append(contentsOf: buffer[0..<count])
            } else if count == 0 {
                return Result(received: received, readError: nil, elapsed: clock.now - start)
            } else {
                return Result(received: received, readError: errno, elapsed: clock.now - start)
            }
        }
    }
}

/// Runs blocking work (a subprocess, a blocking socket) on its own thread.
///
/// The cooperative pool has one thread per core, two here; a test that blocks one of them
/// starves the in-process server that the blocking call is waiting for.
func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try work() })
        }
        thread.start()
    }
}

/// The repository root, found from this file's path (Tests/MockServerTests/…).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

private let temporaryDirectoryCounter = Atomic<Int>(0)

/// A fresh directory under the system temporary directory, removed by the caller.
///
/// Named by process id and a counter rather than a random UUID, so runs stay reproducible.
func makeTemporaryDirectory(_ label: String) throws -> URL {
    let number = temporaryDirectoryCounter.add(1, ordering: .relaxed).newValue
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("mock-sfm-\(getpid())-\(number)-\(label)", isDirectory: true)
    try? FileManager.default.removeItem(at: directory)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory
}
