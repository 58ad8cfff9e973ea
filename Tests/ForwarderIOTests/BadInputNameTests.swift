import ForwarderCore
@testable import ForwarderIO
import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The bad-input matrix (issue #7): odd names in the watched folder.
// MARK: - Names

/// An entry with an odd name beside a normal event, and what the pass must make of it.
struct OddName: Sendable, CustomTestStringConvertible {
    enum Outcome: Sendable { case noise, notARegularFile, uploadedWith(report: String) }

    var label: String
    var name: [UInt8]
    var kind = FolderEntry.Kind.regularFile
    var outcome: Outcome
    var testDescription: String { label }

    var isUploaded: Bool {
        if case .uploadedWith = outcome { return true }
        return false
    }

    init(_ label: String, _ name: String, kind: FolderEntry.Kind = .regularFile, _ outcome: Outcome) {
        self.init(label, Array(name.utf8), kind: kind, outcome)
    }

    init(_ label: String, _ name: [UInt8], kind: FolderEntry.Kind = .regularFile, _ outcome: Outcome) {
        self.label = label
        self.name = name
        self.kind = kind
        self.outcome = outcome
    }

    static let all: [OddName] = [
        OddName("space inside", "N844 20G.630H", .noise),
        OddName("trailing space", "N844L20G.630H ", .noise),
        OddName("Unicode, composed (NFC)", "\u{D1}844L20G.630H", .noise),
        OddName("Unicode, decomposed (NFD)", "N\u{303}844L20G.630H", .noise),
        OddName("Kelvin sign for K", "\u{212A}844L20G.630H", .noise),
        OddName("full-width digit", "N\u{FF18}44L20G.630H", .noise),
        OddName("tab", "N844L20G.63\tH", .noise),
        OddName("newline", "N844L20G.630\n", .noise),
        OddName("bytes that are not UTF-8", [0x4E, 0xE9] + Array("44L20G.630H".utf8), .noise),
        OddName("Unicode report name", "\u{D1}844L20G_630H_ASCII.TXT", .noise),
        OddName("folder named like an event", "N844L20G.630H", kind: .directory, .notARegularFile),
        OddName("folder named like a Blastware export", "K123_20240101_120000.bw", kind: .directory, .notARegularFile),
        OddName("lower case, report in upper case", "n844l20g.630h", .uploadedWith(report: "N844L20G_630H_ASCII.TXT")),
        OddName("mixed case, report in lower case", "N844l20G.630h", .uploadedWith(report: "n844l20g_630h_ascii.txt")),
        OddName("lower-case extension, manual report name", "K123ABCD.ab4", .uploadedWith(report: "K123ABCD.AB4.txt")),
    ]
}

extension BadInputMatrixTests {
    @Suite("Names")
    struct Names {
        @Test("Names: odd names are noise, not regular files, or events paired by case; the state stays loadable",
              arguments: OddName.all)
        func oddName(_ odd: OddName) async throws {
            let world = try ForwarderWorld()
            try world.event(1, ageSeconds: 1000)
            try createEntry(odd.name, in: world.achPath, kind: odd.kind, contents: eventBytes(7), ageSeconds: 1000,
                            now: world.clock.now())
            if case .uploadedWith(let report) = odd.outcome {
                try world.write(report, Data("odd report".utf8), ageSeconds: 1000)
            }
            let (forwarder, store) = try world.forwarder(over: LocalEventFolder(path: world.achPath))
            let report = try await forwarder.runPass()
            #expect(report.listedEntries == (odd.isUploaded ? 4 : 3), "the event, its report, the odd entry and any report of it")
            switch odd.outcome {
            case .noise:
                #expect(report.skips[.notAnEvent] == 1)
                #expect(world.uploadedNames == [eventName(1)])
            case .notARegularFile:
                #expect(report.skips[.notARegularFile] == 1)
                #expect(world.uploadedNames == [eventName(1)])
            case .uploadedWith(let reportName):
                let name = String(decoding: odd.name, as: UTF8.self)
                let request = try #require(world.uploader.requests.first { $0.binary.name == name })
                #expect(request.report?.name == reportName)
                #expect(request.report?.contents == Data("odd report".utf8))
                #expect(report.forwarded == 2)
            }
            try store.close()
            let reopened = try FileStateStore(path: world.statePath)
            #expect(Set(reopened.allRecords().map(\.fileName)) == Set(world.uploadedNames))
        }

        @Test("Names: the NFC and NFD spellings of one name are two files, both listed and both noise")
        func composedAndDecomposed() throws {
            let folder = try TemporaryFolder("nfc-nfd")
            let now = FileTime(Date())
            try createEntry(Array("\u{D1}844L20G.630H".utf8), in: folder.path, ageSeconds: 10, now: now)
            try createEntry(Array("N\u{303}844L20G.630H".utf8), in: folder.path, ageSeconds: 10, now: now)
            let entries = try LocalEventFolder(path: folder.path).listEntries()
            #expect(entries.map { Array($0.name.utf8) }.sorted { $0.lexicographicallyPrecedes($1) }
                        == [Array("N\u{303}844L20G.630H".utf8), Array("\u{D1}844L20G.630H".utf8)])
            let plan = ScanPlanner.plan(entries: entries, now: now, policy: ScanPolicy(), cache: DigestCache(),
                                        acceptedRecord: { _ in nil })
            #expect(plan.skips[.notAnEvent] == 2)
        }

        @Test("Names: a report whose name only looks like the binary's under Unicode equivalence is never paired",
              arguments: [false, true])
        func kelvinDecoy(realReportListedFirst: Bool) {
            let now = FileTime(secondsSince1970: 2_000_000_000)
            let old = now - .seconds(1000)
            let binary = FolderEntry(name: "K123ABCD.AB0W", byteCount: 3000, modificationTime: old)
            let real = FolderEntry(name: "K123ABCD_AB0W_ASCII.TXT", byteCount: 10, modificationTime: old)
            // U+212A KELVIN SIGN is canonically equivalent to "K", so Swift strings compare it equal.
            let decoy = FolderEntry(name: "\u{212A}123ABCD_AB0W_ASCII.TXT", byteCount: 99, modificationTime: old)
            let listing = realReportListedFirst ? [binary, real, decoy] : [binary, decoy, real]
            let plan = ScanPlanner.plan(entries: FolderListing(listing), now: now, policy: ScanPolicy(), cache: DigestCache(),
                                        acceptedRecord: { _ in nil })
            #expect(plan.candidates.map(\.report) == [real])
            #expect(plan.skips[.notAnEvent] == 1)

            let alone = ScanPlanner.plan(entries: [binary, decoy], now: now, policy: ScanPolicy(), cache: DigestCache(),
                                         acceptedRecord: { _ in nil })
            #expect(alone.candidates.map(\.report) == [nil], "past the grace period the binary goes alone")
        }
    }
}
