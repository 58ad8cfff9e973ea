import Foundation
import Testing

/// Keeps the simulator's judges apart from the rules they judge.
///
/// The generator, the mock SFM and the checkers decide names, pairing and the server contract
/// from their own code (`SimEventName`, `SimReportNames`, `MockContract`, the manifest). They may
/// use ForwarderCore's seam types (FileTime, FolderEntry, ScanPolicy, UploadOutcome…) but not its
/// rules: a wrong rule would otherwise change the system and its judge together and pass. This
/// scan fails naming the file and line of every use of a rule under `Simulator/`.
enum OracleIndependence {
    /// ForwarderCore's rules: decisions, codecs and contract code, by type or member name.
    static let forwarderRules = [
        "EventFileRules", "BlastwareEventName", "CivilDateTime", "ScanPlanner", "DigestCache",
        "ImportReplyClassifier", "ImportContract", "MultipartFormBody", "RetryPlanner", "SettleRule",
        "SettleObservations", "HealthRules", "ServerPause", "StateRecordCodec", "IniFile", "SampleConfig",
        "ConcurrencyLimit", "SettingsResolver.resolve", "SettingsResolver.resolveCollectingProblems",
        "SettingsResolver.effectiveValues", "SettingsResolver.parseBoolean", "RetryAfter.parse", "isTooOld",
        "eventTime(of",
    ]

    /// Files that stand in for the forwarder itself (not for a judge), with the rules they may call.
    static let allowed: [String: Set<String>] = [
        // The production uploader's request bytes and reply classification, in process.
        "ForwarderSimulation/Simulation/ForwarderWireSide.swift": ["MultipartFormBody", "ImportReplyClassifier"],
        // `forwarder-sim bench` writes a state file as the forwarder's input, in its own format.
        "ForwarderSimulation/Bench/BenchWorkloads.swift": ["StateRecordCodec"],
    ]

    /// `file:line: rule` for every use of a forwarder rule in `text`, comments left out.
    static func uses(in text: String, file: String) -> [String] {
        var found: [String] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.range(of: "//").map { rawLine[..<$0.lowerBound] } ?? rawLine[...]
            for rule in forwarderRules where !(allowed[file]?.contains(rule) ?? false) && mentions(line, rule) {
                found.append("\(file):\(index + 1): \(rule)")
            }
        }
        return found
    }

    /// True when `rule` occurs in `line` as a whole identifier (not inside a longer one).
    static func mentions(_ line: Substring, _ rule: String) -> Bool {
        func isIdentifier(_ character: Character?) -> Bool {
            guard let character else { return false }
            return character.isLetter || character.isNumber || character == "_"
        }
        var searchStart = line.startIndex
        while let range = line.range(of: rule, range: searchStart..<line.endIndex) {
            let before = range.lowerBound == line.startIndex ? nil : line[line.index(before: range.lowerBound)]
            let after = range.upperBound == line.endIndex ? nil : line[range.upperBound]
            if !isIdentifier(before), !isIdentifier(rule.last == "(" ? nil : after) { return true }
            searchStart = range.upperBound
        }
        return false
    }

    /// Every Swift file under `Simulator/`, as (path relative to it, text).
    static func simulatorSources() -> [(String, String)] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Simulator")
        guard let walker = FileManager.default.enumerator(atPath: root.path) else { return [] }
        return walker.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }.sorted().compactMap { path in
            (try? String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)).map { (path, $0) }
        }
    }
}

@Suite("Oracle independence")
struct OracleIndependenceTests {
    @Test("Oracles: no simulator source calls a forwarder rule")
    func simulatorUsesNoRule() {
        let sources = OracleIndependence.simulatorSources()
        #expect(sources.count > 50, "the scan found the Simulator sources")
        let uses = sources.flatMap { OracleIndependence.uses(in: $0.1, file: $0.0) }
        #expect(uses.isEmpty, "\(uses.joined(separator: "\n"))")
    }

    @Test("Oracles: the scan names file and line of a rule, and ignores comments and longer names")
    func scanFindsRules() {
        let text = """
            import ForwarderCore
            let names = EventFileRules.reportNames(forBinary: binary)
            // EventFileRules is mentioned in a comment only
            let judge = ServerPauseJudge()
            let settings = try SettingsResolver.resolve(layers)
            let key = SettingsResolver.Key.folder
            """
        #expect(OracleIndependence.uses(in: text, file: "Generator/Example.swift")
            == ["Generator/Example.swift:2: EventFileRules", "Generator/Example.swift:5: SettingsResolver.resolve"])
        #expect(OracleIndependence.uses(in: "let body = MultipartFormBody(request: request)",
                                        file: "ForwarderSimulation/Simulation/ForwarderWireSide.swift").isEmpty,
                "the forwarder's own wire side may build its request")
        #expect(OracleIndependence.uses(in: "let outcome = ScanPlanner.plan(entries: [])",
                                        file: "ForwarderSimulation/Simulation/ForwarderWireSide.swift")
            == ["ForwarderSimulation/Simulation/ForwarderWireSide.swift:1: ScanPlanner"])
    }
}
