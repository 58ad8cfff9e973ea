import ForwarderCore
import Testing

/// The planner pairs binaries with reports through a packed index (issue #14); these tests hold
/// it to the rule as `EventFileRules.reportNames(forBinary:)` states it.
@Suite("Report pairing")
struct ReportPairingTests {
    /// Folds ASCII letters one way or the other, chosen by `pattern`'s bits.
    static func mixedCase(_ name: String, pattern: UInt64) -> String {
        String(decoding: name.utf8.enumerated().map { index, byte in
            guard (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
            else { return byte }
            return pattern >> UInt64(index % 64) & 1 == 1 ? byte | 0x20 : byte & 0xDF
        }, as: UTF8.self)
    }

    /// The report the rule pairs `binary` with: the first of its report names present in the
    /// listing, compared without regard to ASCII case; the last of equal names wins.
    static func expectedReport(for binary: String, in names: [String]) -> String? {
        for wanted in EventFileRules.reportNames(forBinary: binary) {
            if let match = names.last(where: { EventFileRules.caseFoldedKey($0) == EventFileRules.caseFoldedKey(wanted) }) {
                return match
            }
        }
        return nil
    }

    @Test("Pairing: every binary gets the report its report names prefer, in any case, among near misses",
          arguments: [UInt64(1), 7, 20_261_201])
    func pairsAsReportNamesSay(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var world = PlannerWorld()
        var names: [String] = []
        let extensions = ["630H", "N00", "7K2W", "ABC"]
        for index in 0..<200 {
            let stem = "N\(100 + index % 900)L20" + ["G", "h", "Q", "z"][index % 4]
            let binary = stem + "." + extensions[index % extensions.count]
            let fileExtension = extensions[index % extensions.count]
            var candidates = [binary]
            switch random.next() % 8 {
            case 0: break
            case 1: candidates.append("\(stem)_\(fileExtension)_ASCII.TXT")
            case 2: candidates.append("\(binary).TXT")
            case 3: candidates += ["\(binary).TXT", "\(stem)_\(fileExtension)_ASCII.TXT"]
            case 4: candidates.append("\(stem)-\(fileExtension)_ASCII.TXT")
            case 5: candidates += ["\(stem)_\(fileExtension)_ASCII.TXT.TXT", "\(stem)_\(fileExtension)X_ASCII.TXT"]
            case 6: candidates += ["\(stem)_\(fileExtension)_ASCII.TXT", "\(stem)_\(fileExtension)_ascii.txt"]
            default: candidates += ["\(binary)TXT", "\(stem).\(fileExtension)_ASCII.TXT"]
            }
            for name in candidates { names.append(Self.mixedCase(name, pattern: random.next())) }
        }
        for name in names { world.file(name, ageSeconds: 3600) }
        let plan = world.plan()
        let binaries = names.filter { EventFileRules.isEventBinary($0) }
        #expect(plan.candidates.count == binaries.count)
        for candidate in plan.candidates {
            #expect(candidate.report?.name == Self.expectedReport(for: candidate.binary.name, in: names),
                    "binary \(candidate.binary.name)")
        }
        #expect(plan.candidates.contains { $0.report != nil })
        #expect(plan.candidates.contains { $0.report == nil })
    }

    @Test("Pairing: of two reports whose names differ only by case, the one listed last is paired")
    func lastOfEqualNamesWins() {
        var world = PlannerWorld()
        world.file("N844L20G.630H", ageSeconds: 300)
        world.file("N844L20G_630H_ASCII.TXT", ageSeconds: 200, byteCount: 1)
        world.file("n844l20g_630h_ascii.txt", ageSeconds: 200, byteCount: 2)
        #expect(world.plan().candidates.first?.report?.byteCount == 2)
    }
}
