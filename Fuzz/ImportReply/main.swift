import ForwarderCore
import Foundation

/// The server reply classifier: every reply gets a class, a `2xx` is accepted only on the
/// binary's own `ok` row, and a status outside `2xx` is never an acceptance.
///
/// Input: the HTTP status on the first line, the uploaded binary's name on the second, an
/// optional `Retry-After` value on the third, then the body.
@_cdecl("LLVMFuzzerTestOneInput")
public func importReplyFuzzInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var lines = Array(UnsafeBufferPointer(start: data, count: size))
        .split(separator: UInt8(ascii: "\n"), maxSplits: 3, omittingEmptySubsequences: false).map(Array.init)
    while lines.count < 4 { lines.append([]) }
    let status = Int(String(decoding: lines[0], as: UTF8.self)) ?? 200
    let binaryName = String(decoding: lines[1], as: UTF8.self)
    let retryAfter = lines[2].isEmpty ? nil : String(decoding: lines[2], as: UTF8.self)
    let body = Data(lines[3])
    let outcome = ImportReplyClassifier.classify(status: status, retryAfterHeader: retryAfter, body: body,
                                                 binaryName: binaryName)
    let reply = try? JSONDecoder().decode(ImportReply.self, from: body)
    switch outcome {
    case .accepted(let row):
        require((200...299).contains(status), "HTTP \(status) accepted")
        require(row.filename == binaryName && row.status == "ok", "accepted on row \(row) for \(binaryName.debugDescription)")
        require(reply?.results.contains(row) == true, "accepted row \(row) is not in the reply")
    case .rejected(let problem):
        require(!ImportReplyClassifier.isRetryable(status: status), "retryable HTTP \(status) rejected: \(problem)")
        checkProblem(problem, status: status, reply: reply, binaryName: binaryName)
    case .failed(let problem):
        require(ImportReplyClassifier.isRetryable(status: status), "HTTP \(status) failed as retryable: \(problem)")
        checkProblem(problem, status: status, reply: reply, binaryName: binaryName)
    }
    return 0
}

/// A problem names what the server said: its status outside `2xx`, else why the body was not an acceptance.
private func checkProblem(_ problem: UploadProblem, status: Int, reply: ImportReply?, binaryName: String) {
    _ = problem.description
    require(problem.detail.count <= 300 + "check SFM_API_TOKEN: ".count + 1 || problem.kind == .fileError,
            "detail of \(problem.detail.count) characters")
    switch problem.kind {
    case .httpStatus(let code):
        require(code == status && !(200...299).contains(status), "HTTP \(status) reported as \(problem)")
    case .nonJSONReply:
        require((200...299).contains(status) && reply == nil, "a reply that decodes reported as non-JSON")
    case .fileError:
        let rows = reply?.results.filter { $0.filename == binaryName } ?? []
        require(!rows.isEmpty && !rows.contains { $0.status == "ok" }, "file error without the binary's refused row")
    case .missingRow:
        require(reply != nil && reply?.results.contains { $0.filename == binaryName } == false,
                "missing row although the reply has one for \(binaryName.debugDescription)")
    case .transport, .timeout:
        require(false, "a reply classified as \(problem.kind)")
    }
}
