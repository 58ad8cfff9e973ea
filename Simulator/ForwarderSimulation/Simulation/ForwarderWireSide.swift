import ForwarderCore
import Foundation

// The forwarder's side of the wire, for the in-process simulation and the fleet.
//
// These two stand in for the production `HTTPEventUploader`, which is part of the forwarder
// under test: the request bytes it sends and what it makes of a reply. They call the forwarder's
// own `MultipartFormBody` and `ImportReplyClassifier` on purpose (a simulation with its own
// classifier would test a different forwarder); the mock that reads the request and the
// checkers that judge the outcome use the simulator's own contract code, never these.
// `OracleIndependenceTests` allows exactly this file to name those two.

extension MockImportRequest {
    /// The request the production forwarder would send for `request`, byte for byte.
    public init(_ request: ImportRequest, receivedAt: FileTime) {
        let form = MultipartFormBody(request: request)
        self.init(receivedAt: receivedAt, serialHint: request.serialHint, contentType: form.contentType,
                  body: form.bytes)
    }
}

extension MockReply {
    /// What a client uploading `binaryName` makes of this reply, as the production uploader
    /// classifies it: responses through `ImportReplyClassifier`, a hang as a timeout, the other
    /// socket faults as transport failures.
    public func uploadOutcome(forBinary binaryName: String) -> UploadOutcome {
        switch self {
        case .respond(let response):
            return ImportReplyClassifier.classify(status: response.status, retryAfterHeader: response.header("Retry-After"),
                                                  body: response.body, binaryName: binaryName)
        case .socketFault(.noAnswer, _):
            return .failed(UploadProblem(kind: .timeout, detail: "no answer from the server"))
        case .socketFault(let fault, _):
            return .failed(UploadProblem(kind: .transport, detail: "injected \(fault.kindName)"))
        }
    }
}

extension MockReplyRow {
    /// The row as the forwarder's reply type holds it, for outcomes rebuilt from the mock's journal.
    public var importFileResult: ImportFileResult {
        ImportFileResult(filename: filename, status: status, filesize: filesize, inserted: inserted, skipped: skipped,
                         detail: detail)
    }
}
