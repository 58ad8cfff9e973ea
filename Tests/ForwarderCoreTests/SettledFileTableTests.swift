@testable import ForwarderCore
import Testing

/// The settle memory's table of settled files, which forgets in place (issue #14).
@Suite("Settled file table")
struct SettledFileTableTests {
    /// Keys spread by a fixed mix (SplitMix64's), so a failure replays.
    static func keys(_ count: Int, salt: UInt64 = 0) -> [UInt64] {
        (0..<UInt64(count)).map { index in
            var mixed = (index &+ salt &* 0x1000) &* 0x9E37_79B9_7F4A_7C15
            mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
            mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
            return SettledFileTable.key(ofHash: Int(bitPattern: UInt(mixed ^ (mixed >> 31))))
        }
    }

    @Test("Settled table: after a listing, exactly the keys it met are kept, however the runs of full slots wrap")
    func keepsExactlyTheMarkedKeys() {
        // Keys whose homes all fall in the last slots, so their run wraps past the end.
        let crowded = (0..<UInt64(6)).map { SettledFileTable.key(ofHash: Int(bitPattern: UInt(UInt64.max - $0 * 4))) }
        for (keys, keptEvery) in [(Self.keys(1000), 3), (Self.keys(1000), 1), (crowded, 2), (Self.keys(50), 50)] {
            var table = SettledFileTable()
            table.reserve(keyCount: keys.count)
            for key in keys { table.insertMarked(key) }
            table.removeUnmarked()
            #expect(table.count == keys.count)
            let kept = keys.enumerated().filter { $0.offset % keptEvery == 0 }.map(\.element)
            for key in kept {
                let found = table.mark(key)
                #expect(found)
            }
            table.removeUnmarked()
            #expect(table.count == kept.count)
            #expect(keys.filter(table.contains) == kept)
            // The marks were cleared: a listing that meets nothing forgets everything.
            table.removeUnmarked()
            #expect(table.count == 0)
            #expect(!keys.contains(where: table.contains))
        }
    }

    @Test("Settled table: a listing of new files beside the old ones grows the table and loses none")
    func growsBesideOldKeys() {
        var table = SettledFileTable()
        let old = Self.keys(300)
        let new = Self.keys(300, salt: 7)
        table.reserve(keyCount: old.count)
        for key in old { table.insertMarked(key) }
        table.removeUnmarked()
        table.reserve(keyCount: new.count)
        for key in new {
            let found = table.mark(key)
            #expect(!found)
            table.insertMarked(key)
        }
        #expect(table.count == 600)
        #expect((old + new).allSatisfy(table.contains))
        table.removeUnmarked()
        #expect(table.count == 300)
        #expect(new.allSatisfy(table.contains))
        #expect(!old.contains(where: table.contains))
    }

    @Test("Settled table: a key is never zero and never carries the mark")
    func keyShape() {
        for hash in [0, -1, 1, 2, Int.min, Int.max] {
            let key = SettledFileTable.key(ofHash: hash)
            #expect(key != 0)
            #expect(key & 1 == 0)
        }
    }
}
