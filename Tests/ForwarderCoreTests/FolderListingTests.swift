@testable import ForwarderCore
import Testing

/// The compact listing: names in one byte buffer, entries as 32-byte records (issue #14).
@Suite("Folder listing")
struct FolderListingTests {
    static let time = FileTime(secondsSince1970: 1_800_000_000, nanoseconds: 123_456_789)

    static func entry(_ name: String, _ index: Int, kind: FolderEntry.Kind = .regularFile,
                      identity: FileIdentity? = nil) -> FolderEntry {
        FolderEntry(name: name, kind: kind, byteCount: Int64(1000 * index + 7),
                    modificationTime: time + .seconds(Int64(index)),
                    identity: identity ?? FileIdentity(volume: 2049, file: UInt64(index + 100)))
    }

    @Test("Listing: every entry reads back as it was appended, names side by side without bleeding")
    func roundTrip() {
        let entries = [
            Self.entry("N844L20G.630H", 0),
            Self.entry("N844L20G_630H_ASCII.TXT", 1),
            Self.entry("a", 2, kind: .directory),
            Self.entry("link", 3, kind: .other),
            Self.entry("N844L20G.630", 4, identity: FileIdentity(volume: 77, file: 1)),
        ]
        let listing = FolderListing(entries)
        #expect(listing.count == entries.count)
        #expect(Array(listing) == entries)
        #expect(listing.map(\.name) == entries.map(\.name))
        #expect(listing.fingerprint(at: 4) == entries[4].fingerprint)
        #expect(listing.kind(at: 2) == .directory)
        #expect(listing.modificationTime(at: 1) == Self.time + .seconds(1))
    }

    @Test("Listing: long names and non-ASCII names round trip byte for byte")
    func longAndNonASCIINames() {
        let longest = String(repeating: "é", count: 255)
        let names = [String(repeating: "x", count: 255), longest, "Ünïcode.TXT", "N\u{303}844L20G.630H", "漢字.N00", ""]
        let listing = FolderListing(names.enumerated().map { Self.entry($1, $0) })
        #expect(listing.map(\.name) == names)
        for (position, name) in names.enumerated() {
            #expect(listing.withName(at: position) { Array($0) } == Array(name.utf8))
        }
        #expect(listing.withName(at: 1) { $0.count } == 510)
    }

    @Test("Listing: a name that is not UTF-8 keeps its bytes and is repaired only as a String")
    func bytesThatAreNotUTF8() {
        var listing = FolderListing()
        let raw: [UInt8] = [0x4E, 0xFF, 0x38, 0x2E, 0x54, 0x58, 0x54]
        listing.append(nameBytes: raw, kind: .regularFile, byteCount: 1, modificationTime: Self.time, identity: nil)
        listing.append(Self.entry("after", 1))
        #expect(listing.withName(at: 0) { Array($0) } == raw)
        #expect(listing.name(at: 0) == String(decoding: raw, as: UTF8.self))
        #expect(listing.name(at: 0) == "N\u{FFFD}8.TXT")
        #expect(listing[0].identity == nil)
        #expect(listing.name(at: 1) == "after")
    }

    @Test("Listing: an empty listing lists nothing, and plans and settles nothing")
    func emptyListing() {
        let listing = FolderListing()
        #expect(listing.isEmpty)
        #expect(Array(listing) == [])
        var observations = SettleObservations()
        #expect(observations.observe(listing, wallNow: Self.time, monotonicNow: .origin, policy: ScanPolicy()).isEmpty)
        #expect(observations.count == 0)
        let plan = ScanPlanner.plan(entries: listing, now: Self.time, observations: observations, policy: ScanPolicy(),
                                    cache: DigestCache(), acceptedRecord: { _ in nil })
        #expect(plan.listedEntryCount == 0)
        #expect(plan.eventBinaryCount == 0)
        #expect(plan.candidates.isEmpty)
        #expect(plan.skips.isEmpty)
    }

    @Test("Listing: entries on several volumes keep their own volume, entries without identity keep none")
    func volumes() {
        let entries = (0..<10).map { index in
            FolderEntry(name: "file\(index)", byteCount: 1, modificationTime: Self.time,
                        identity: index == 5 ? nil : FileIdentity(volume: UInt64(index % 3), file: UInt64(index)))
        }
        var listing = FolderListing()
        for entry in entries { listing.append(entry) }
        #expect(listing.map(\.identity) == entries.map(\.identity))
        #expect(listing[5].identity == nil)
        #expect(listing[4].identity == FileIdentity(volume: 1, file: 4))
    }

    @Test("Listing: an entry takes 32 bytes besides its name")
    func entrySize() {
        #expect(FolderListing.recordByteCount == 32)
    }
}
