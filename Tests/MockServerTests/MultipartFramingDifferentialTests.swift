import ForwarderCore
import Foundation
@testable import ForwarderSimulation
import NIOCore
import Testing

/// The mock's own multipart reader against multipart-kit's: the same verdict (the parts, or the
/// same refusal) on every body, so that replacing the reader changed the mock's speed and
/// nothing it accepts or refuses.
@Suite("Mock multipart framing against multipart-kit")
struct MultipartFramingDifferentialTests {
    typealias Verdict = Result<[MultipartFraming.Part], MockRejection>

    /// Both readings of `body`, behind the non-ASCII header scan both run after.
    static func verdicts(_ body: [UInt8], boundary: String) -> (new: Verdict, reference: Verdict)? {
        let buffer = ByteBuffer(bytes: body)
        guard !UploadReader.hasNonASCIIHeaderBlock(buffer, boundary: boundary) else { return nil }
        func verdict(_ read: (ByteBuffer, String) throws(MockRejection) -> [MultipartFraming.Part]) -> Verdict {
            do throws(MockRejection) { return .success(try read(buffer, boundary)) } catch { return .failure(error) }
        }
        return (verdict { body, boundary throws(MockRejection) in try MultipartFraming.parts(of: body, boundary: boundary) },
                verdict { body, boundary throws(MockRejection) in try MultipartKitFraming.parts(of: body, boundary: boundary) })
    }

    static let boundary = "b0und"
    static let disposition = "Content-Disposition: form-data; name=\"files\"; filename=\"N844L20G.630H\"\r\n"

    /// Hand-written bodies, each an edge of the format; the labels say which.
    static let oddBodies: [(label: String, body: String)] = [
        ("empty", ""),
        ("one part", "--b0und\r\n\(disposition)\r\nabc\r\n--b0und--\r\n"),
        ("no closing delimiter", "--b0und\r\n\(disposition)\r\nabc"),
        ("closing delimiter without its hyphens", "--b0und\r\n\(disposition)\r\nabc\r\n--b0und"),
        ("closing delimiter with one hyphen", "--b0und\r\n\(disposition)\r\nabc\r\n--b0und-"),
        ("ends after a delimiter's CR", "--b0und\r\n\(disposition)\r\nabc\r\n--b0und\r"),
        ("ends after a delimiter's CRLF", "--b0und\r\n\(disposition)\r\nabc\r\n--b0und\r\n"),
        ("a delimiter followed by another byte", "--b0und\r\n\(disposition)\r\nabc\r\n--b0undX\r\n"),
        ("preamble", "this is the preamble\r\n--b0und\r\n\(disposition)\r\nabc\r\n--b0und--"),
        ("preamble with a false start", "-\r\n-\r--b0un--b0und\r\n\(disposition)\r\nabc\r\n--b0und--"),
        ("epilogue", "--b0und\r\n\(disposition)\r\nabc\r\n--b0und--\r\nepilogue\r\n--b0und\r\nx"),
        ("LF-only lines", "--b0und\n\(disposition)\n\nabc\n--b0und--\n"),
        ("LF-only header line", "--b0und\r\nContent-Disposition: form-data\nContent-Type: x\r\n\r\nabc\r\n--b0und--"),
        ("duplicate names", "--b0und\r\n\(disposition)\r\na\r\n--b0und\r\n\(disposition)\r\nb\r\n--b0und--"),
        ("duplicate headers", "--b0und\r\n\(disposition)\(disposition)\r\na\r\n--b0und--"),
        ("no headers", "--b0und\r\n\r\nabc\r\n--b0und--"),
        ("empty part cut off", "--b0und\r\n\(disposition)\r\nabc\r\n--b0und\r\n\r\n"),
        ("headers cut off", "--b0und\r\n\(disposition)\r\nabc\r\n--b0und\r\nContent-Type: te"),
        ("second header cut off", "--b0und\r\n\(disposition)Content-Ty"),
        ("space before a colon", "--b0und\r\nContent-Disposition : form-data\r\n\r\nx\r\n--b0und--"),
        ("colon first", "--b0und\r\n: form-data\r\n\r\nx\r\n--b0und--"),
        ("empty value", "--b0und\r\nX:\r\n\r\nx\r\n--b0und--"),
        ("tabs and spaces around a value", "--b0und\r\nX: \t v \t\r\n\r\nx\r\n--b0und--"),
        ("CR without LF in a value", "--b0und\r\nX: a\rb\r\n\r\nx\r\n--b0und--"),
        ("delimiter without CRLF after it", "--b0undContent-Type: x\r\n\r\nx\r\n--b0und--"),
        ("boundary split by CRs in the body", "--b0und\r\n\r\n\r\r\n\r\n-\r\n--\r\n--b0un\r\n--b0und--"),
        ("body is only a delimiter's start", "--b0und\r\n\r\n\r\n--"),
        ("the boundary without dashes in the body", "--b0und\r\n\r\nb0und\r\nb0und\r\n--b0und--"),
        ("tspecials in a header name", "--b0und\r\nContent(Type): x\r\n\r\nx\r\n--b0und--"),
    ]

    @Test("Mock: the framing gives multipart-kit's verdict on hand-written edge bodies")
    func oddBodiesAgree() throws {
        var refusals = 0
        for (label, body) in Self.oddBodies {
            let verdicts = try #require(Self.verdicts(Array(body.utf8), boundary: Self.boundary), "\(label)")
            #expect(verdicts.new == verdicts.reference, "\(label)")
            if case .failure = verdicts.reference { refusals += 1 }
        }
        #expect(refusals > 5 && refusals < Self.oddBodies.count - 5, "the bodies exercise both verdicts")
    }

    @Test("Mock: a non-ASCII header block is refused before either reader sees it")
    func nonASCIIHeader() {
        let body = Array("--b0und\r\nContent-Dispositi\u{F3}n: form-data\r\n\r\nx\r\n--b0und--".utf8)
        #expect(Self.verdicts(body, boundary: Self.boundary) == nil)
        #expect(throws: MockRejection.self) {
            try UploadReader.read(contentType: "multipart/form-data; boundary=b0und", body: ByteBuffer(bytes: body))
        }
    }

    @Test("Mock: the framing reads the forwarder's bodies (golden boundary, boundary in contents) as multipart-kit does")
    func forwarderBodiesAgree() throws {
        let contents: [Data] = [Data(), Data([0x00, 0x0D, 0x0A, 0x2D, 0xFF, 0x42]),
                                Data("\r\n------BlastwareForwarder7f3a9c1e5b2d4086".utf8),
                                Data("Serial Number : BE12844\r\n".utf8)]
        for binary in contents {
            for report in [nil] + contents {
                let request = ImportRequest(binary: .init(name: "N844L20G.630H", contents: binary),
                                            report: report.map { .init(name: "N844L20G_630H_ASCII.TXT", contents: $0) })
                let form = MultipartFormBody(request: request)
                let verdicts = try #require(Self.verdicts(Array(form.bytes), boundary: form.boundary))
                #expect(verdicts.new == verdicts.reference)
                let parts = try verdicts.new.get()
                #expect(parts.map(\.body) == [binary] + (report.map { [$0] } ?? []))
            }
        }
    }

    /// Pieces seeded bodies are made of: delimiters whole and broken, line ends, header lines,
    /// bytes that start or continue a delimiter.
    static func pieces(boundary: String) -> [[UInt8]] {
        ["--\(boundary)", "\r\n--\(boundary)", "\r\n--\(boundary)--", "--\(String(boundary.dropLast()))", "\r\n", "\r",
         "\n", "-", "--", "x", " ", "\t", ":", "X-A: b", "Content-Disposition: form-data; name=\"files\"; filename=\"A.630H\"",
         "\r\n\r\n", "(", String(boundary.prefix(2))].map { Array($0.utf8) } + [[0x00], [0xFF]]
    }

    /// A body of random pieces (odd), or a well-formed body of one to three parts, sometimes
    /// without its closing delimiter, cut short or with a piece inserted somewhere (even).
    static func seededBody(_ generator: inout SplitMix64, boundary: String, pieces: [[UInt8]]) -> [UInt8] {
        func draw(_ count: Int) -> Int { Int(generator.next() % UInt64(count)) }
        var body: [UInt8] = []
        guard generator.next() % 2 == 0 else {
            for _ in 0..<draw(24) { body += pieces[draw(pieces.count)] }
            return body
        }
        let headerLines = ["Content-Disposition: form-data; name=\"files\"; filename=\"A.630H\"\r\n",
                           "Content-Type: text/plain\r\n", "X:  v \r\n"]
        for part in 0...draw(3) {
            body += Array("\(part == 0 ? "" : "\r\n")--\(boundary)\r\n".utf8)
            for _ in 0..<draw(3) { body += Array(headerLines[draw(headerLines.count)].utf8) }
            body += Array("\r\n".utf8)
            for _ in 0..<draw(6) { body += pieces[draw(pieces.count)] }
        }
        if draw(4) != 0 { body += Array("\r\n--\(boundary)--\r\n".utf8) }
        if draw(4) == 0 { body.removeLast(draw(body.count)) }
        if draw(3) == 0 { body.insert(contentsOf: pieces[draw(pieces.count)], at: draw(body.count + 1)) }
        return body
    }

    @Test("Mock: the framing gives multipart-kit's verdict on 20,000 seeded bodies (seed 20261201), boundaries with CR and dashes included")
    func seededBodiesAgree() {
        var generator = SplitMix64(seed: 20261201)
        var accepted = 0
        var compared = 0
        for boundary in ["b0und", "-b", "a\rb", "\r-", "--"] {
            let pieces = Self.pieces(boundary: boundary)
            for _ in 0..<4_000 {
                let body = Self.seededBody(&generator, boundary: boundary, pieces: pieces)
                guard let verdicts = Self.verdicts(body, boundary: boundary) else { continue }
                compared += 1
                if case .success = verdicts.reference { accepted += 1 }
                #expect(verdicts.new == verdicts.reference, "boundary \(boundary.debugDescription), body \(body)")
            }
        }
        #expect(compared > 15_000, "most bodies pass the header scan")
        #expect(accepted > 2_000, "the seeded bodies exercise both verdicts")
        #expect(accepted < compared - 2_000, "the seeded bodies exercise both verdicts")
    }
}
