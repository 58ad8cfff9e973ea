import ForwarderCore
import Foundation
import NIOCore

/// The mock's multipart reading: any body is either read into files the contract allows or
/// refused with a 4xx, and every request the forwarder frames is read back file for file.
///
/// Input: the `Content-Type` value on the first line, then the body; the same bytes also
/// drive a request framed by the forwarder's `MultipartFormBody`.
@_cdecl("LLVMFuzzerTestOneInput")
public func mockMultipartFuzzInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeBufferPointer(start: data, count: size)
    let newline = input.firstIndex(of: UInt8(ascii: "\n")) ?? size
    let contentType = String(decoding: UnsafeBufferPointer(rebasing: input[..<newline]), as: UTF8.self)
    let body = ByteBuffer(bytes: UnsafeBufferPointer(rebasing: input[min(newline + 1, size)...]))
    do {
        for file in try UploadReader.read(contentType: contentType, body: body) {
            checkAllowed(file)
        }
    } catch {
        require(error.status == 400 || error.status == 415, "refused with \(error.status): \(error.detail)")
    }
    var reader = FuzzBytes(input)
    checkFramedRequest(generatedRequest(&reader))
    return 0
}

/// A file the mock accepts is plainly named and is an event binary or a report, as its role says.
private func checkAllowed(_ file: ReceivedFile) {
    require(UploadReader.isPlainFileName(file.name), "accepted a file named \(file.name.debugDescription)")
    switch file.role {
    case .binary(let name):
        require(EventFileRules.isEventBinary(file.name), "\(file.name.debugDescription) read as a binary")
        require(name == BlastwareEventName(parsing: file.name), "\(file.name.debugDescription) decoded as \(String(describing: name))")
    case .report:
        require(EventFileRules.isReportName(file.name) && !EventFileRules.isEventBinary(file.name),
                "\(file.name.debugDescription) read as a report")
    }
}

/// The forwarder's framing of a request, read by the mock: the same files, names and bytes.
private func checkFramedRequest(_ request: ImportRequest) {
    let form = MultipartFormBody(request: request)
    let files: [ReceivedFile]
    do {
        files = try UploadReader.read(contentType: form.contentType, body: ByteBuffer(bytes: form.bytes))
    } catch {
        require(false, "the mock refused the forwarder's request (\(error.status): \(error.detail)) "
                    + "for \(request.binary.name) with \(request.binary.contents.count) bytes")
        return
    }
    let sent = [request.binary] + (request.report.map { [$0] } ?? [])
    require(files.map(\.name) == sent.map(\.name), "names \(files.map(\.name)) read back for \(sent.map(\.name))")
    require(files.map(\.contents) == sent.map(\.contents), "contents changed on the way for \(sent.map(\.name))")
}

/// An event binary with any contents (the boundary included now and then), maybe with its report.
private func generatedRequest(_ reader: inout FuzzBytes) -> ImportRequest {
    let kinds: [BlastwareEventName.Kind] = [.waveform, .histogram, .manual]
    let name = BlastwareEventName(serialNumber: Int(reader.int(in: 0...24_999)),
                                  secondsSince1985: Int(reader.int(in: 0...Int64(BlastwareEventName.maximumSecondsSince1985))),
                                  kind: kinds[Int(reader.byte()) % kinds.count])!
    let binaryName = reader.bool() ? name.fileName.lowercased() : name.fileName
    func contents() -> Data {
        var bytes = reader.bytes(maximumLength: 200)
        if reader.bool() {
            let at = bytes.isEmpty ? 0 : Int(reader.byte()) % bytes.count
            bytes.insert(contentsOf: Array("\r\n--\(MultipartFormBody.preferredBoundary)".utf8), at: at)
        }
        return Data(bytes)
    }
    let binary = ImportRequest.File(name: binaryName, contents: contents())
    guard reader.bool() else { return ImportRequest(binary: binary, report: nil) }
    let reportNames = EventFileRules.reportNames(forBinary: binaryName)
    let report = ImportRequest.File(name: reportNames[Int(reader.byte()) % reportNames.count], contents: contents())
    return ImportRequest(binary: binary, report: report)
}
