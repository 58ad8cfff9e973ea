import ForwarderCore
import Foundation
import NIOCore

/// One import request as the mock sees it: the body, its headers, and when it arrived.
///
/// Time comes in with the request so the handler never reads a clock: the socket server passes
/// the wall time, the in-process simulation passes its simulated time.
public struct MockImportRequest: Sendable {
    public var receivedAt: FileTime
    /// The `?serial=` query value, if any.
    public var serialHint: String?
    /// The `Content-Type` header, if any.
    public var contentType: String?
    public var body: ByteBuffer

    public init(receivedAt: FileTime, serialHint: String?, contentType: String?, body: ByteBuffer) {
        self.receivedAt = receivedAt
        self.serialHint = serialHint
        self.contentType = contentType
        self.body = body
    }

    public init(receivedAt: FileTime, serialHint: String?, contentType: String?, body: Data) {
        self.init(receivedAt: receivedAt, serialHint: serialHint, contentType: contentType,
                  body: ByteBuffer(bytes: body))
    }
}

/// What the mock answered, what it journaled, and which files it stored.
public struct MockExchange: Sendable {
    public var reply: MockReply
    public var journalEntry: JournalEntry
    /// Files committed by this request (binaries and the reports stored with them), for
    /// callers that keep copies on disk.
    public var storedFiles: [ReceivedFile]
}

/// How the transport must answer: an HTTP response, or a failure below HTTP.
public enum MockReply: Hashable, Sendable {
    case respond(MockHTTPResponse)
    /// Wait `delay`, then fail the connection as the fault says.
    case socketFault(SocketFault, delay: Duration)

    /// The HTTP status, when there is a response.
    public var status: Int? {
        if case .respond(let response) = self { return response.status }
        return nil
    }
}

/// An HTTP response for the transport to send.
public struct MockHTTPResponse: Hashable, Sendable {
    public var status: Int
    /// Header fields in order; `Content-Length` is the transport's business.
    public var headers: [MockHeader]
    public var body: Data
    /// How long to wait before sending the head.
    public var delay: Duration
    /// When set, send the body in small chunks with pauses.
    public var bodyPacing: BodyPacing?

    public init(status: Int, headers: [MockHeader], body: Data, delay: Duration = .zero,
                bodyPacing: BodyPacing? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
        self.delay = delay
        self.bodyPacing = bodyPacing
    }

    /// How long the answer takes to arrive in full: the delay plus the pauses of a slow body,
    /// for a simulation that advances its clock instead of sleeping.
    public var duration: Duration {
        guard let bodyPacing, body.count > bodyPacing.chunkByteCount else { return delay }
        let pauses = (body.count + bodyPacing.chunkByteCount - 1) / bodyPacing.chunkByteCount - 1
        return delay + bodyPacing.interval * pauses
    }

    /// The first header value for `name`, ignoring case.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// The body decoded as the import reply, when it is one.
    public var importReply: ImportReply? { try? JSONDecoder().decode(ImportReply.self, from: body) }
}

/// One header field.
public struct MockHeader: Hashable, Sendable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// Failures below HTTP, carried out by the socket layer.
public enum SocketFault: Hashable, Sendable {
    /// Reset the connection (SO_LINGER 0, then close): the client reads ECONNRESET.
    case connectionReset
    /// Close the connection without writing anything.
    case closeWithoutResponse
    /// Write these bytes (a chunked response head and a chunk-size line that is not hexadecimal),
    /// then close.
    case malformedChunk(Data)
    /// Write these random bytes, then close.
    case garbageThenClose(Data)
    /// Write nothing and keep the connection open until the client closes it or `maximum` passes.
    case noAnswer(maximum: Duration)

    /// The fault kind name used in plans, the journal and statistics.
    public var kindName: String {
        switch self {
        case .connectionReset: return "connectionReset"
        case .closeWithoutResponse: return "closeWithoutResponse"
        case .malformedChunk: return "malformedChunk"
        case .garbageThenClose: return "garbageThenClose"
        case .noAnswer: return "noAnswer"
        }
    }
}

/// One file of an upload, with its digest and what its name says it is.
public struct ReceivedFile: Hashable, Sendable {
    public enum Role: Hashable, Sendable {
        /// An event binary; the decoded name is nil when the name has the shape but not a
        /// decodable serial and time (e.g. prefix letter `A`).
        case binary(SimEventName?)
        case report
    }

    public var name: String
    public var contentType: String?
    public var contents: Data
    public var digest: EventDigest
    public var role: Role

    public var byteCount: Int { contents.count }
}

/// A request refused before anything was stored, with the status and detail to answer.
public struct MockRejection: Error, Hashable, Sendable {
    public var status: Int
    public var detail: String

    public init(status: Int, detail: String) {
        self.status = status
        self.detail = detail
    }
}
