import ForwarderCore
import Foundation
@testable import ForwarderSimulation
import NIOCore
import Testing

/// The byte-level checks the mock runs on every upload, against the string-level readings
/// they replaced: the same answer on every name, so that reading bytes changed the mock's
/// speed and nothing it accepts or refuses.
@Suite("Mock byte readers against their string readings")
struct MockByteReadersTests {
    /// The plain-name rule as Foundation's substring search and scalar checks say it.
    static func isPlainByStrings(_ name: String) -> Bool {
        !name.contains("/") && !name.contains("\\") && !name.contains("..") && name != "."
            && !name.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
            && !name.hasPrefix(".") && !name.contains(":")
    }

    /// The event-binary shape as the scalar reading said it.
    static func looksLikeEventBinaryByScalars(_ name: String) -> Bool {
        let scalars = Array(SimReportNames.foldedCase(name).unicodeScalars)
        guard scalars.count == 12 || scalars.count == 13, scalars[8] == "." else { return false }
        func isLetter(_ scalar: Unicode.Scalar) -> Bool { ("A"..."Z").contains(scalar) }
        func isDigit(_ scalar: Unicode.Scalar) -> Bool { ("0"..."9").contains(scalar) }
        guard isLetter(scalars[0]), scalars[1...3].allSatisfy(isDigit),
              scalars[4...7].allSatisfy({ isLetter($0) || isDigit($0) }),
              scalars[9...].allSatisfy({ isLetter($0) || isDigit($0) }) else { return false }
        return !SimReportNames.knownNonEventExtensions.contains(String(String.UnicodeScalarView(scalars[9...])))
    }

    @Test("Upload names: plain-name verdicts on edge names")
    func plainNameEdges() {
        let plain = ["N844L20G.630H", "N844L20G_630H_ASCII.TXT", "a.b", "", "a.", "x.y.z", "é.TXT"]
        let notPlain = ["a/b", "a\\b", "..", "a..b", ".", ".hidden", "a:b", "a\tb", "a\u{7F}", "\u{1F}x", "é/x", "x/é"]
        for name in plain { #expect(UploadReader.isPlainFileName(name), "\(name.debugDescription)") }
        for name in notPlain { #expect(!UploadReader.isPlainFileName(name), "\(name.debugDescription)") }
        for name in plain + notPlain + [".\u{301}.", "a/\u{301}b", "..\u{301}"] {
            #expect(UploadReader.isPlainFileName(name) == Self.isPlainByStrings(name), "\(name.debugDescription)")
        }
    }

    @Test("Upload names: plain-name verdicts match the string reading on 20,000 seeded names")
    func plainNameSeeded() {
        let seed: UInt64 = 20_261_201
        print("plain-name seed \(seed)")
        var random = SeededRandom(seed: seed)
        let alphabet: [String] = [".", ".", "/", "\\", ":", "a", "Z", "0", "_", "\t", "\u{7F}", " ", "é", "\u{301}"]
        var refused = 0
        for _ in 0..<20_000 {
            let length = Int(random.next() % 6)
            let name = (0..<length).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] }.joined()
            let verdict = UploadReader.isPlainFileName(name)
            if !verdict { refused += 1 }
            #expect(verdict == Self.isPlainByStrings(name), "\(name.debugDescription)")
        }
        #expect(refused > 1_000 && refused < 19_000, "both verdicts occur: \(refused) refused")
    }

    @Test("Upload names: the event-binary shape matches the scalar reading on 20,000 seeded names")
    func eventBinaryShapeSeeded() {
        let seed: UInt64 = 20_261_202
        print("event-binary seed \(seed)")
        var random = SeededRandom(seed: seed)
        let pieces: [String] = ["N", "n", "A", "8", "0", "L", "g", ".", "T", "X", "é", "\u{212A}", "_", "M", "l"]
        var accepted = 0
        for _ in 0..<20_000 {
            // Mostly the real shape with one position changed, so that both answers occur.
            var characters = Array("N844L20G.630H").map(String.init)
            if random.next() % 4 == 0 { characters.removeLast() }
            if random.next() % 8 == 0 { characters.append("H") }
            let position = Int(random.next() % UInt64(characters.count))
            characters[position] = pieces[Int(random.next() % UInt64(pieces.count))]
            if random.next() % 3 == 0 {
                characters.replaceSubrange(9..., with: ["T", "X", "T"].map { random.next() % 2 == 0 ? $0 : $0.lowercased() })
            }
            let name = characters.joined()
            let verdict = SimReportNames.looksLikeEventBinary(name)
            if verdict { accepted += 1 }
            #expect(verdict == Self.looksLikeEventBinaryByScalars(name), "\(name.debugDescription)")
        }
        #expect(accepted > 1_000 && accepted < 19_000, "both verdicts occur: \(accepted) accepted")
    }

    @Test("Upload names: case folding by bytes matches folding by scalars")
    func caseFolding() {
        func foldedByScalars(_ name: String) -> String {
            String(String.UnicodeScalarView(name.unicodeScalars.map { scalar in
                ("a"..."z").contains(scalar) ? Unicode.Scalar(scalar.value - 32)! : scalar
            }))
        }
        let names = ["", "n844l20g.630h", "N844L20G_630H_ascii.txt", "é.txt", "ß\u{212A}k.Txt", "a\u{301}b😀z", "{|}`@[~"]
        for name in names {
            let folded = SimReportNames.foldedCase(name)
            #expect(Array(folded.utf8) == Array(foldedByScalars(name).utf8), "\(name.debugDescription)")
        }
        #expect(SimReportNames.foldedCase("n844l20g_630h_ascii.txt") == "N844L20G_630H_ASCII.TXT")
        #expect(SimReportNames.foldedCase("é.txt") == "é.TXT")
    }

    @Test("Multipart framing: a part's body keeps its bytes after the request body is reused")
    func partBodiesOutliveTheBody() throws {
        let binary = (0..<30_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let text = "--b0und\r\nContent-Disposition: form-data; name=\"files\"; filename=\"N844L20G.630H\"\r\n\r\n"
        var body = ByteBuffer(string: text)
        body.writeBytes(binary)
        body.writeString("\r\n--b0und--\r\n")
        let parts = try MultipartFraming.parts(of: body, boundary: "b0und")
        body.clear()
        body.writeBytes([UInt8](repeating: 0xEE, count: 40_000))
        #expect(parts.count == 1)
        #expect(parts.first?.body == Data(binary))
        #expect(parts.first.map { EventDigest(of: $0.body) } == EventDigest(of: Data(binary)))
    }
}
