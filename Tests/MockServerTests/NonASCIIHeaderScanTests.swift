import ForwarderCore
@testable import ForwarderSimulation
import NIOCore
import Testing

/// The mock's scan for non-ASCII part headers, against a plain byte-by-byte reading of its rule.
@Suite("Mock non-ASCII header scan")
struct NonASCIIHeaderScanTests {
    /// The rule read literally: after every occurrence of `--boundary`, up to the next blank
    /// line, is there a byte above 0x7F?
    static func reference(_ bytes: [UInt8], boundary: String) -> Bool {
        let delimiter = Array("--\(boundary)".utf8)
        let blankLine: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A]
        func matches(_ pattern: [UInt8], at position: Int) -> Bool {
            position + pattern.count <= bytes.count && Array(bytes[position..<(position + pattern.count)]) == pattern
        }
        for start in bytes.indices where matches(delimiter, at: start) {
            var index = start + delimiter.count
            while index < bytes.count, !matches(blankLine, at: index) {
                if bytes[index] > 0x7F { return true }
                index += 1
            }
        }
        return false
    }

    @Test("Mock: the header scan agrees with the rule read byte by byte on 5,000 seeded bodies")
    func agreesWithReference() {
        let boundary = "b-1"
        let pieces: [[UInt8]] = [Array("--b-1".utf8), Array("--b-".utf8), Array("\r\n\r\n".utf8), Array("\r\n".utf8),
                                 [0xFF], [0x80], [0x7F], Array("-".utf8), Array("x".utf8), Array("--".utf8)]
        var generator = SplitMix64(seed: 4242)
        var found = 0
        for _ in 0..<5_000 {
            var bytes: [UInt8] = []
            for _ in 0..<Int(generator.next() % 16) { bytes += pieces[Int(generator.next() % UInt64(pieces.count))] }
            let expected = Self.reference(bytes, boundary: boundary)
            if expected { found += 1 }
            #expect(UploadReader.hasNonASCIIHeaderBlock(ByteBuffer(bytes: bytes), boundary: boundary) == expected,
                    "body \(bytes)")
        }
        #expect(found > 500, "the seeded bodies exercise both answers")
        #expect(found < 4_500, "the seeded bodies exercise both answers")
    }
}
