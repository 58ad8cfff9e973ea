import ForwarderCore
@testable import ForwarderSimulation
import Testing

/// The mock reads ASCII part headers byte by byte and anything else scalar by scalar: both
/// readings must take every header apart alike.
@Suite("Mock header parameters")
struct HeaderParametersTests {
    static func pairs(_ parsed: (String, [(name: String, value: String)])) -> [String] {
        [parsed.0] + parsed.1.flatMap { [$0.name, $0.value] }
    }

    @Test("Mock: a Content-Disposition is taken apart into its value and parameters")
    func disposition() throws {
        let header = HeaderParameters(" form-data ;  NAME=\"files\"; filename=\"a;b=\\\"c\\\\.TXT\" ; flag; empty=")
        #expect(header.value == "form-data")
        #expect(header["name"] == "files")
        #expect(header["FILENAME"] == "a;b=\"c\\.TXT")
        #expect(header["flag"] == "")
        #expect(header["empty"] == "")
        #expect(header["missing"] == nil)
    }

    @Test("Mock: the byte reading of ASCII headers agrees with the scalar reading on 20,000 seeded headers")
    func bytesAgreeWithScalars() throws {
        let alphabet = Array("; =\"\\\tab".utf8) + Array("Xy".utf8)
        var generator = SplitMix64(seed: 20261201)
        for _ in 0..<20_000 {
            let length = Int(generator.next() % 24)
            let bytes = (0..<length).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }
            let header = String(decoding: bytes, as: UTF8.self)
            let ascii = try #require(HeaderParameters.parseASCII(header))
            #expect(Self.pairs(ascii) == Self.pairs(HeaderParameters.parseScalars(header)), "header \(header.debugDescription)")
        }
    }

    @Test("Mock: a header that is not ASCII is left to the scalar reading")
    func nonASCII() {
        #expect(HeaderParameters.parseASCII("form-data; filename=\"é.TXT\"") == nil)
        #expect(HeaderParameters("form-data; filename=\"é.TXT\"")["filename"] == "é.TXT")
        #expect(HeaderParameters("form-data;\u{00A0}name=x\u{00A0}")["name"] == "x")
    }
}
