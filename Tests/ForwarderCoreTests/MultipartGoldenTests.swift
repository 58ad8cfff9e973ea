import ForwarderCore
import Foundation
import Testing

/// The multipart body, byte for byte, as the forwarder has always sent it: the body builder may
/// get faster, but the simulation's digests and the server see exactly these bytes.
@Suite("Multipart golden")
struct MultipartGoldenTests {
    static let boundary = "----BlastwareForwarder7f3a9c1e5b2d4086"

    @Test("Upload: a binary and its report encode to exactly the bytes sent before")
    func binaryAndReport() {
        let binary = ImportRequest.File(name: "N844L20G.630H", contents: Data([0x00, 0x0D, 0x0A, 0x2D, 0xFF, 0x42]))
        let report = ImportRequest.File(name: "N844L20G_630H_ASCII.TXT", contents: Data("Serial Number : BE12844\r\n".utf8))
        let body = MultipartFormBody(request: ImportRequest(binary: binary, report: report))
        var expected = Data("--\(Self.boundary)\r\n".utf8)
        expected += Data("Content-Disposition: form-data; name=\"files\"; filename=\"N844L20G.630H\"\r\n".utf8)
        expected += Data("Content-Type: application/octet-stream\r\n\r\n".utf8)
        expected += Data([0x00, 0x0D, 0x0A, 0x2D, 0xFF, 0x42])
        expected += Data("\r\n--\(Self.boundary)\r\n".utf8)
        expected += Data("Content-Disposition: form-data; name=\"files\"; filename=\"N844L20G_630H_ASCII.TXT\"\r\n".utf8)
        expected += Data("Content-Type: text/plain\r\n\r\n".utf8)
        expected += Data("Serial Number : BE12844\r\n".utf8)
        expected += Data("\r\n--\(Self.boundary)--\r\n".utf8)
        #expect(body.bytes == expected)
        #expect(body.boundary == Self.boundary)
        #expect(body.contentType == "multipart/form-data; boundary=\(Self.boundary)")
    }

    @Test("Upload: a lone binary with an empty body encodes to one part")
    func loneEmptyBinary() {
        let body = MultipartFormBody(request: ImportRequest(binary: .init(name: "A.630H", contents: Data()), report: nil))
        let expected = "--\(Self.boundary)\r\nContent-Disposition: form-data; name=\"files\"; filename=\"A.630H\"\r\n"
            + "Content-Type: application/octet-stream\r\n\r\n\r\n--\(Self.boundary)--\r\n"
        #expect(body.bytes == Data(expected.utf8))
    }

    @Test("Upload: quotes and backslashes in a name are escaped, line breaks dropped")
    func escapedName() {
        let body = MultipartFormBody(request: ImportRequest(binary: .init(name: "a\"b\\c\r\nd", contents: Data("x".utf8)),
                                                            report: nil))
        let expected = "--\(Self.boundary)\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a\\\"b\\\\cd\"\r\n"
            + "Content-Type: application/octet-stream\r\n\r\nx\r\n--\(Self.boundary)--\r\n"
        #expect(body.bytes == Data(expected.utf8))
    }

    @Test("Upload: content holding the boundary and its first replacement gets the second, in every part")
    func replacedBoundary() {
        let binary = ImportRequest.File(name: "A.630H", contents: Data("..\(Self.boundary)..".utf8))
        let report = ImportRequest.File(name: "A_ASCII.TXT", contents: Data("\(Self.boundary)x1".utf8))
        let body = MultipartFormBody(request: ImportRequest(binary: binary, report: report))
        let chosen = Self.boundary + "x2"
        let expected = "--\(chosen)\r\nContent-Disposition: form-data; name=\"files\"; filename=\"A.630H\"\r\n"
            + "Content-Type: application/octet-stream\r\n\r\n..\(Self.boundary)..\r\n"
            + "--\(chosen)\r\nContent-Disposition: form-data; name=\"files\"; filename=\"A_ASCII.TXT\"\r\n"
            + "Content-Type: text/plain\r\n\r\n\(Self.boundary)x1\r\n--\(chosen)--\r\n"
        #expect(body.boundary == chosen)
        #expect(body.bytes == Data(expected.utf8))
    }

    @Test("Upload: a boundary split over the end of the content, or one byte short, is no collision")
    func nearMisses() {
        let shortByOne = Data(Self.boundary.utf8.dropLast())
        for contents in [shortByOne, Data("-".utf8) + shortByOne, Data(Self.boundary.utf8.dropFirst())] {
            let body = MultipartFormBody(request: ImportRequest(binary: .init(name: "A.630H", contents: contents), report: nil))
            #expect(body.boundary == Self.boundary)
        }
        let exact = MultipartFormBody(request: ImportRequest(binary: .init(name: "A.630H", contents: Data(Self.boundary.utf8)),
                                                             report: nil))
        #expect(exact.boundary == Self.boundary + "x1")
    }

    @Test("Upload: a seeded 64 KiB event with report hashes to the body digest recorded before the rewrite")
    func seededDigest() {
        var generator = SplitMix64(seed: 20261201)
        let binary = Data((0..<65_536).map { _ in UInt8(truncatingIfNeeded: generator.next()) })
        let report = Data((0..<15_000).map { _ in UInt8(truncatingIfNeeded: 0x20 + generator.next() % 0x5F) })
        let body = MultipartFormBody(request: ImportRequest(binary: .init(name: "UM12345_20261201120000.IDF", contents: binary),
                                                            report: .init(name: "UM12345_20261201120000.TXT", contents: report)))
        #expect(body.bytes.count == 65_536 + 15_000 + 372)
        #expect(EventDigest(of: body.bytes).hex == "5b660e4cf6c7fe1914f4a7da82d854d509e8176c030a6c3d9ef3e844b2edfb1e")
    }
}
