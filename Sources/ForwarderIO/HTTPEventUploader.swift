import AsyncHTTPClient
import ForwarderCore
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// Uploads import requests to the SFM server: `http` URLs with `LeanHTTPClient`, `https` with
/// AsyncHTTPClient.
///
/// One client for the forwarder's lifetime keeps connections alive between uploads; every
/// failure is turned into an `UploadOutcome` here, so nothing above this layer sees an error.
/// The lean client carries no TLS, so `https` keeps AsyncHTTPClient and its NIOSSL set-up.
public final class HTTPEventUploader: EventUploader {
    public let baseURL: String
    public let serialHint: String?
    public let requestTimeout: Duration
    private let authorization: String?
    /// The import URL for `serialHint`, built once: requests with another hint build their own.
    private let endpoint: String
    /// The path and query of `endpoint`, as the lean client's request line carries them.
    private let endpointTarget: String
    private let transport: Transport
    /// The largest reply body read; a real reply is a few hundred bytes.
    private static let replyByteLimit = 1 << 20

    /// - Parameters:
    ///   - certificateAuthorityFile: PEM certificates to trust instead of the system's roots, for
    ///     a server with a private CA; verification stays on either way.
    ///   - bearerToken: sent as `Authorization: Bearer` with every upload.
    /// - Throws: `UploaderSetupError` when the certificate file cannot be read.
    public init(baseURL: String, serialHint: String?, requestTimeout: Duration, maximumConnections: Int = 8,
                certificateAuthorityFile: String? = nil, bearerToken: BearerToken? = nil) throws {
        self.baseURL = baseURL
        self.serialHint = serialHint
        self.requestTimeout = requestTimeout
        self.authorization = bearerToken.map { "Bearer " + $0.secret }
        endpoint = ImportContract.endpoint(baseURL: baseURL, serialHint: serialHint)
        endpointTarget = Self.requestTarget(endpoint)
        if let plain = Self.plainHTTPAddress(endpoint) {
            transport = .lean(LeanHTTPClient(host: plain.host, port: plain.port, requestTimeout: requestTimeout,
                                             replyByteLimit: Self.replyByteLimit,
                                             maximumIdleConnections: maximumConnections))
            return
        }
        let timeout = TimeAmount.nanoseconds(requestTimeout.wholeNanoseconds)
        var configuration = HTTPClient.Configuration(
            timeout: .init(connect: min(timeout, .seconds(10)), read: timeout),
            connectionPool: .init(idleTimeout: .seconds(60),
                                  concurrentHTTP1ConnectionsPerHostSoftLimit: maximumConnections))
        configuration.httpVersion = .http1Only
        // No tracing: with the default no-op tracer, every request would still parse its URL
        // with Foundation and build span attributes that nothing reads (4 % of an upload's CPU).
        configuration.tracing.tracer = nil
        if let certificateAuthorityFile {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .certificates(try Self.certificateAuthorities(inFile: certificateAuthorityFile))
            configuration.tlsConfiguration = tls
        }
        transport = .asyncHTTPClient(HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration))
    }

    /// Which client carries the requests.
    private enum Transport: Sendable {
        case lean(LeanHTTPClient)
        case asyncHTTPClient(HTTPClient)
    }

    /// The host and port of an `http` URL; nil for `https` or a URL Foundation cannot read.
    ///
    /// The host as the URL encodes it (`encodedHost`, an internationalized name in its ASCII
    /// form), which is what a connection resolves: `host` decodes it through ICU's IDNA, whose
    /// code and tables were 1.3 MB of a pass's resident memory.
    static func plainHTTPAddress(_ url: String) -> (host: String, port: Int)? {
        guard let components = URLComponents(string: url), components.scheme?.lowercased() == "http",
              let host = components.encodedHost, !host.isEmpty else { return nil }
        return (host, components.port ?? 80)
    }

    /// The path and query of `url`, as the request line carries them.
    private static func requestTarget(_ url: String) -> String {
        guard let components = URLComponents(string: url) else { return "/" }
        let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        return components.percentEncodedQuery.map { path + "?" + $0 } ?? path
    }

    /// The PEM certificates in `path`, as `SFM_CA_FILE` names them.
    ///
    /// - Throws: `UploaderSetupError.unusableCertificateFile` when the file cannot be read or
    ///   holds no certificate.
    public static func certificateAuthorities(inFile path: String) throws -> [NIOSSLCertificate] {
        do {
            let certificates = try NIOSSLCertificate.fromPEMFile(path)
            guard !certificates.isEmpty else { throw UploaderSetupError.noCertificates }
            return certificates
        } catch {
            throw UploaderSetupError.unusableCertificateFile(path: path, detail: "\(error)")
        }
    }

    /// Sends an empty POST to the import endpoint, with the token, and returns the HTTP status.
    ///
    /// For `validate --check-server`: it goes through this client's TLS and timeouts exactly as
    /// an upload does and reaches the very path uploads use, yet carries no file, so the server
    /// stores nothing (it answers 4xx for the missing `files` field).
    public func probe() async -> ServerProbeOutcome {
        do {
            let answer = try await exchange(url: ImportContract.endpoint(baseURL: baseURL, serialHint: serialHint), body: nil)
            return .answered(status: answer.status)
        } catch {
            return .noAnswer(detail: "\(error)")
        }
    }

    /// The body in one buffer allocated at its final size: each file's bytes are copied once,
    /// from the `Data` they were read into.
    static func buffer(holding body: MultipartFormBody) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: body.byteCount)
        write(body, into: &buffer)
        return buffer
    }

    /// Appends the body's bytes to `buffer`: its framing and each file's contents, in order.
    static func write(_ body: MultipartFormBody, into buffer: inout ByteBuffer) {
        for part in body.parts {
            buffer.writeBytes(part.head)
            part.contents.withUnsafeBytes { _ = buffer.writeBytes($0) }
        }
        buffer.writeBytes(body.closing)
    }

    /// Closes the kept-alive connections; call once, when the forwarder stops.
    public func shutdown() async {
        switch transport {
        case .lean(let client): await client.shutdown()
        case .asyncHTTPClient(let client): try? await client.shutdown()
        }
    }

    public func upload(_ request: ImportRequest) async -> UploadOutcome {
        let body = MultipartFormBody(request: request)
        let hint = request.serialHint ?? serialHint
        let url = hint == serialHint ? endpoint : ImportContract.endpoint(baseURL: baseURL, serialHint: hint)
        do {
            let answer = try await exchange(url: url, body: body)
            return ImportReplyClassifier.classify(status: answer.status, retryAfterHeader: answer.retryAfter,
                                                  body: answer.body, binaryName: request.binary.name)
        } catch let error as HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout:
                return .failed(UploadProblem(kind: .timeout, detail: "no answer within \(requestTimeout) (\(error))"))
            default:
                return .failed(UploadProblem(kind: .transport, detail: "\(error)"))
            }
        } catch LeanHTTPClient.Failure.timeout, ChannelError.connectTimeout {
            return .failed(UploadProblem(kind: .timeout, detail: "no answer within \(requestTimeout)"))
        } catch is CancellationError {
            return .failed(UploadProblem(kind: .transport, detail: "cancelled"))
        } catch {
            return .failed(UploadProblem(kind: .transport, detail: "\(error)"))
        }
    }

    /// What the server answered to one POST.
    private struct Answer {
        var status: Int
        var retryAfter: String?
        var body: Data
    }

    /// POSTs `body` (none: an empty body) to `url` with the forwarder's headers and reads the whole reply.
    private func exchange(url: String, body: MultipartFormBody?) async throws -> Answer {
        switch transport {
        case .lean(let client):
            var headers: [(name: String, value: String)] = []
            headers.reserveCapacity(4)
            if let body { headers.append(("Content-Type", body.contentType)) }
            headers.append(("Accept", "application/json"))
            headers.append(("User-Agent", ImportContract.userAgent))
            if let authorization { headers.append(("Authorization", authorization)) }
            let target = url == endpoint ? endpointTarget : Self.requestTarget(url)
            let reply = try await client.post(target: target, headers: headers, body: body)
            return Answer(status: reply.status, retryAfter: reply.retryAfter, body: Data(reply.body))
        case .asyncHTTPClient(let client):
            var httpRequest = HTTPClientRequest(url: url)
            httpRequest.method = .POST
            httpRequest.headers.reserveCapacity(4)
            if let body { httpRequest.headers.add(name: "Content-Type", value: body.contentType) }
            httpRequest.headers.add(name: "Accept", value: "application/json")
            httpRequest.headers.add(name: "User-Agent", value: ImportContract.userAgent)
            if let authorization { httpRequest.headers.add(name: "Authorization", value: authorization) }
            httpRequest.body = .bytes(body.map(Self.buffer(holding:)) ?? ByteBuffer())
            let response = try await client.execute(httpRequest, timeout: .nanoseconds(requestTimeout.wholeNanoseconds))
            let replyBody = try await response.body.collect(upTo: Self.replyByteLimit)
            return Answer(status: Int(response.status.code), retryAfter: response.headers.first(name: "Retry-After"),
                          body: Data(replyBody.readableBytesView))
        }
    }
}

/// What `HTTPEventUploader.probe()` got: an HTTP status, or why there was none.
public enum ServerProbeOutcome: Hashable, Sendable {
    case answered(status: Int)
    case noAnswer(detail: String)
}

/// Why the uploader could not be set up; a settings problem, so the command exits 2.
public enum UploaderSetupError: Error, CustomStringConvertible {
    case noCertificates
    case unusableCertificateFile(path: String, detail: String)

    public var description: String {
        switch self {
        case .noCertificates:
            return "the file holds no PEM certificate"
        case .unusableCertificateFile(let path, let detail):
            return "invalid SFM_CA_FILE=\"\(path)\": cannot read PEM certificates from it (\(detail))"
        }
    }
}
