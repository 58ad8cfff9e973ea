import ForwarderCore
import Foundation
import Testing

/// The hand-written table in `Tests/Golden/blastware-names.txt`, read line by line.
///
/// The table is data written from domain.md, not computed by any rule under test, so the rules
/// are pinned by it rather than by themselves. This reader is kept apart from the simulator's
/// copy in GeneratorTests on purpose: each test target judges its own side.
enum GoldenNames {
    struct Event: CustomTestStringConvertible, Sendable {
        var binary, serial, localTime, kind, achReport, manualExport: String
        var testDescription: String { binary }
    }

    struct NamePair: CustomTestStringConvertible, Sendable {
        var binary, name: String
        var testDescription: String { "\(binary) + \(name)" }
    }

    static let lines: [[String]] = {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Golden/blastware-names.txt").path
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            .filter { !$0.isEmpty && !$0[0].hasPrefix("#") }
    }()

    static let events = lines.filter { $0[0] == "event" && $0.count == 7 }
        .map { Event(binary: $0[1], serial: $0[2], localTime: $0[3], kind: $0[4], achReport: $0[5], manualExport: $0[6]) }
    static let pairs = lines.filter { $0[0] == "pairs" && $0.count == 3 }.map { NamePair(binary: $0[1], name: $0[2]) }
    static let notPaired = lines.filter { $0[0] == "not-paired" && $0.count == 3 }.map { NamePair(binary: $0[1], name: $0[2]) }
    static let notEvents = lines.filter { $0[0] == "not-event" && $0.count == 2 }.map { $0[1] }
}

/// The forwarder's naming rules against the golden table.
@Suite("Golden names: forwarder rules")
struct GoldenNameTests {
    /// Plans one pass over `names`, all long settled, and returns what it pairs with what.
    static func plannedPairs(_ names: [String]) -> [String: String?] {
        let now = FileTime(secondsSince1970: 1_800_000_000)
        let entries = names.enumerated().map { index, name in
            FolderEntry(name: name, byteCount: 100, modificationTime: now - .seconds(3600 + Int64(index)),
                        identity: FileIdentity(volume: 1, file: UInt64(index + 1)))
        }
        let plan = ScanPlanner.plan(entries: FolderListing(entries), now: now, policy: ScanPolicy(maximumEventAge: .seconds(86_400)),
                                    cache: DigestCache(), acceptedRecord: { _ in nil })
        return Dictionary(plan.candidates.map { ($0.binary.name, $0.report?.name) }, uniquingKeysWith: { first, _ in first })
    }

    @Test("Golden names: the table is there and holds every kind of line")
    func tableIsRead() {
        #expect(GoldenNames.events.count >= 15)
        #expect(GoldenNames.pairs.count >= 6)
        #expect(GoldenNames.notPaired.count >= 8)
        #expect(GoldenNames.notEvents.count >= 10)
    }

    @Test("Golden names: the forwarder decodes serial, local time and kind as the table says",
          arguments: GoldenNames.events)
    func decodes(_ event: GoldenNames.Event) throws {
        let name = try #require(BlastwareEventName(parsing: event.binary))
        #expect(name.unitSerial == event.serial)
        #expect(name.localTime.description == event.localTime)
        let kind: String
        switch name.kind {
        case .waveform: kind = "waveform"
        case .histogram: kind = "histogram"
        case .manual: kind = "manual"
        case .unrecognised: kind = "unrecognised"
        }
        #expect(kind == event.kind)
        #expect(name.fileName == event.binary.uppercased(), "re-encodes to the name on disk")
        #expect(EventFileRules.isEventBinary(event.binary))
    }

    @Test("Golden names: the forwarder's report names are the table's, ACH first", arguments: GoldenNames.events)
    func reportNames(_ event: GoldenNames.Event) {
        let names = EventFileRules.reportNames(forBinary: event.binary).map(EventFileRules.caseFoldedKey)
        #expect(names == [event.achReport, event.manualExport].map(EventFileRules.caseFoldedKey))
        #expect(EventFileRules.isReportName(event.achReport) && EventFileRules.isReportName(event.manualExport))
        #expect(!EventFileRules.isEventBinary(event.achReport) && !EventFileRules.isEventBinary(event.manualExport))
    }

    @Test("Golden names: a pass sends the ACH report when both reports are there, and the manual export alone",
          arguments: GoldenNames.events)
    func passPrefersACH(_ event: GoldenNames.Event) {
        #expect(Self.plannedPairs([event.binary, event.manualExport, event.achReport])[event.binary] == event.achReport)
        #expect(Self.plannedPairs([event.manualExport, event.binary])[event.binary] == event.manualExport)
    }

    @Test("Golden names: a pass pairs a report whatever its letter case", arguments: GoldenNames.pairs)
    func pairsAnyCase(_ pair: GoldenNames.NamePair) {
        #expect(Self.plannedPairs([pair.binary, pair.name])[pair.binary] == pair.name)
    }

    @Test("Golden names: a pass never takes a look-alike for the binary's report", arguments: GoldenNames.notPaired)
    func rejectsLookAlikes(_ pair: GoldenNames.NamePair) {
        let planned = Self.plannedPairs([pair.binary, pair.name])
        #expect(planned[pair.binary] == .some(nil), "\(pair.binary) goes alone")
        #expect(planned[pair.name] == nil, "\(pair.name) is not sent as an event")
    }

    @Test("Golden names: files beside events are not event binaries", arguments: GoldenNames.notEvents)
    func notEvents(_ name: String) {
        #expect(!EventFileRules.isEventBinary(name))
        #expect(Self.plannedPairs([name]).isEmpty)
    }
}
