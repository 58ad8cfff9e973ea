import ForwarderCore
import Foundation
@testable import ForwarderIO
import NIOCore
import Testing

@Suite("Upload body")
struct UploadBodyTests {
    static func request(binary: Data, report: Data?) -> ImportRequest {
        ImportRequest(binary: .init(name: "N844L20G.630H", contents: binary),
                      report: report.map { .init(name: "N844L20G_630H_ASCII.TXT", contents: $0) })
    }

    @Test("Upload: the buffer sent holds exactly the multipart body, and byteCount is its length",
          arguments: [false, true])
    func bufferMatchesBody(withReport: Bool) {
        var generator = SplitMix64(seed: 7)
        let binary = Data((0..<40_000).map { _ in UInt8(truncatingIfNeeded: generator.next()) })
        let report = withReport ? Data("Serial Number : BE12844\r\n\(MultipartFormBody.preferredBoundary)\r\n".utf8) : nil
        let body = MultipartFormBody(request: Self.request(binary: binary, report: report))
        let buffer = HTTPEventUploader.buffer(holding: body)
        #expect(Data(buffer.readableBytesView) == body.bytes)
        #expect(buffer.readableBytes == body.byteCount)
        #expect(body.boundary == (withReport ? MultipartFormBody.preferredBoundary + "x1" : MultipartFormBody.preferredBoundary))
    }
}
