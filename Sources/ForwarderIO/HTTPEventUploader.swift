import AsyncHTTPClient
import ForwarderCore
import Foundation
import NIOCore
import NIOSSL

/// Uploads import requests to the SFM server over HTTP(S) with AsyncHTTPClient.
///
/// One client for the forwarder's lifetime keeps connections alive between uploads; every
/// failure is turned into an `UploadOutcome` here, so nothing above this layer sees an error.
public final class HTTPEventUploader: EventUploader {
    public let baseURL: String
    public let serialHint: String?
    public let requestTimeout: Duration
    private let authorization: String?
    /// The import URL for `serialHint`, built once: requests with another hint build their own.
    private let endpoint: String
    private let client: HTTPClient
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
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
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
        var httpRequest = HTTPClientRequest(url: ImportContract.endpoint(baseURL: baseURL, serialHint: serialHint))
        httpRequest.method = .POST
        httpRequest.headers.add(name: "Accept", value: "application/json")
        httpRequest.headers.add(name: "User-Agent", value: ImportContract.userAgent)
        if let authorization { httpRequest.headers.add(name: "Authorization", value: authorization) }
        httpRequest.body = .bytes(ByteBuffer())
        do {
            let response = try await client.execute(httpRequest, timeout: .nanoseconds(requestTimeout.wholeNanoseconds))
            _ = try await response.body.collect(upTo: Self.replyByteLimit)
            return .answered(status: Int(response.status.code))
        } catch {
            return .noAnswer(detail: "\(error)")
        }
    }

    /// The body in one buffer allocated at its final size: each file's bytes are copied once,
    /// from the `Data` they were read into.
    static func buffer(holding body: MultipartFormBody) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: body.byteCount)
        for part in body.parts {
            buffer.writeBytes(part.head)
            part.contents.withUnsafeBytes { _ = buffer.writeBytes($0) }
        }
        buffer.writeBytes(body.closing)
        return buffer
    }

    /// Closes the kept-alive connections; call once, when the forwarder stops.
    public func shutdown() async {
        try? await client.shutdown()
    }

    public func upload(_ request: ImportRequest) async -> UploadOutcome {
        let body = MultipartFormBody(request: request)
        let hint = request.serialHint ?? serialHint
        var httpRequest = HTTPClientRequest(url: hint == serialHint ? endpoint
                                                : ImportContract.endpoint(baseURL: baseURL, serialHint: hint))
        httpRequest.method = .POST
        httpRequest.headers.reserveCapacity(4)
        httpRequest.headers.add(name: "Content-Type", value: body.contentType)
        httpRequest.headers.add(name: "Accept", value: "application/json")
        httpRequest.headers.add(name: "User-Agent", value: ImportContract.userAgent)
        if let authorization { httpRequest.headers.add(name: "Authorization", value: authorization) }
        httpRequest.body = .bytes(Self.buffer(holding: body))
        do {
            let response = try await client.execute(httpRequest, timeout: .nanoseconds(requestTimeout.wholeNanoseconds))
            let replyBody = try await response.body.collect(upTo: Self.replyByteLimit)
            return ImportReplyClassifier.classify(status: Int(response.status.code),
                                                  retryAfterHeader: response.headers.first(name: "Retry-After"),
                                                  body: Data(replyBody.readableBytesView), binaryName: request.binary.name)
        } catch let error as HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout:
                return .failed(UploadProblem(kind: .timeout, detail: "no answer within \(requestTimeout) (\(error))"))
            default:
                return .failed(UploadProblem(kind: .transport, detail: "\(error)"))
            }
        } catch is CancellationError {
            return .failed(UploadProblem(kind: .transport, detail: "cancelled"))
        } catch {
            return .failed(UploadProblem(kind: .transport, detail: "\(error)"))
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
