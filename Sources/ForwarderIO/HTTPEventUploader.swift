import AsyncHTTPClient
import ForwarderCore
import Foundation
import NIOCore

/// Uploads import requests to the SFM server over HTTP(S) with AsyncHTTPClient.
///
/// One client for the forwarder's lifetime keeps connections alive between uploads; every
/// failure is turned into an `UploadOutcome` here, so nothing above this layer sees an error.
public final class HTTPEventUploader: EventUploader {
    public let baseURL: String
    public let serialHint: String?
    public let requestTimeout: Duration
    private let client: HTTPClient
    /// The largest reply body read; a real reply is a few hundred bytes.
    private static let replyByteLimit = 1 << 20

    public init(baseURL: String, serialHint: String?, requestTimeout: Duration, maximumConnections: Int = 8) {
        self.baseURL = baseURL
        self.serialHint = serialHint
        self.requestTimeout = requestTimeout
        let timeout = TimeAmount.nanoseconds(requestTimeout.wholeNanoseconds)
        var configuration = HTTPClient.Configuration(
            timeout: .init(connect: min(timeout, .seconds(10)), read: timeout),
            connectionPool: .init(idleTimeout: .seconds(60),
                                  concurrentHTTP1ConnectionsPerHostSoftLimit: maximumConnections))
        configuration.httpVersion = .http1Only
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Closes the kept-alive connections; call once, when the forwarder stops.
    public func shutdown() async {
        try? await client.shutdown()
    }

    public func upload(_ request: ImportRequest) async -> UploadOutcome {
        let body = MultipartFormBody(request: request)
        var httpRequest = HTTPClientRequest(url: ImportContract.endpoint(baseURL: baseURL,
                                                                         serialHint: request.serialHint ?? serialHint))
        httpRequest.method = .POST
        httpRequest.headers.add(name: "Content-Type", value: body.contentType)
        httpRequest.headers.add(name: "Accept", value: "application/json")
        httpRequest.headers.add(name: "User-Agent", value: ImportContract.userAgent)
        httpRequest.body = .bytes(ByteBuffer(bytes: body.bytes))
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
