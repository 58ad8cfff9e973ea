import ForwarderCore
import Testing

/// The settle memory keeps only files not yet settled by both clocks (issue #14).
@Suite("Settle memory")
struct SettleMemoryTests {
    static let binary = "N844L20G.630H"
    static let report = "N844L20G_630H_ASCII.TXT"

    @Test("Settle: a steady folder of old files leaves nothing in the settle memory, and still settles")
    func steadyFolderCostsNothing() {
        var world = TwoClockWorld()
        for index in 0..<50 {
            let name = BlastwareEventName(serialNumber: 18190, secondsSince1985: 1_000_000 + index, kind: .waveform)!.fileName
            world.file(name, datedFromNow: .seconds(-3600))
            world.file(EventFileRules.reportNames(forBinary: name)[0], datedFromNow: .seconds(-3600))
        }
        world.observe()
        #expect(world.observations.count == 0)
        let plan = world.plan()
        #expect(plan.candidates.count == 50)
        #expect(plan.candidates.allSatisfy { $0.report != nil })
    }

    @Test("Settle: a file is forgotten once both clocks reach the longest judged quiet time, at its boundary",
          arguments: [(Duration.seconds(60) - .nanoseconds(1), 1), (.seconds(60), 0)])
    func forgottenAtLongestJudgedQuietTime(quietFor: Duration, remembered: Int) {
        var world = TwoClockWorld()
        #expect(world.policy.longestJudgedQuietTime == .seconds(60))
        world.file(Self.binary, datedFromNow: .zero)
        world.observe()
        #expect(world.observations.count == 1)
        world.advance(by: quietFor)
        world.observe()
        #expect(world.observations.count == remembered)
        // Remembered or not, the binary without report is judged the same at the grace boundary.
        #expect(world.plan().candidates.count == 1 - remembered)
        #expect(world.plan().skips[.awaitingReport] == (remembered == 1 ? 1 : nil))
    }

    @Test("Settle: a future-dated file that settled on the monotonic clock stays settled without a sighting")
    func futureDatedStaysSettled() {
        var world = TwoClockWorld()
        world.file(Self.binary, datedFromNow: .seconds(3600))
        world.file(Self.report, datedFromNow: .seconds(3600))
        world.observe()
        world.advance(by: .seconds(120))
        world.observe()
        #expect(world.observations.count == 0)
        #expect(world.plan().candidates.map(\.binary.name) == [Self.binary])
    }

    @Test("Settle: a settled file that changes is held for the quiescence period again")
    func settledThenChanged() {
        var world = TwoClockWorld()
        world.file(Self.binary, datedFromNow: .seconds(-3600))
        world.file(Self.report, datedFromNow: .seconds(-3600))
        world.observe()
        #expect(world.observations.count == 0)
        #expect(world.plan().candidates.count == 1)
        world.advance(by: .seconds(30))
        world.file(Self.binary, datedFromNow: .zero, byteCount: 200)
        world.observe()
        #expect(world.observations.count == 1)
        #expect(world.plan().skips[.binaryNotQuiescent] == 1)
        world.advance(by: .seconds(5) - .nanoseconds(1))
        world.observe()
        #expect(world.plan().skips[.binaryNotQuiescent] == 1)
        world.advance(by: .nanoseconds(1))
        world.observe()
        #expect(world.plan().candidates.map(\.binary.byteCount) == [200])
    }

    @Test("Settle: a settled file rewritten with its old modification time is judged as first seen that old")
    func changedKeepingOldTime() {
        var world = TwoClockWorld()
        world.file(Self.binary, datedFromNow: .seconds(-3600))
        world.file(Self.report, datedFromNow: .seconds(-3600))
        world.observe()
        world.advance(by: .seconds(30))
        world.file(Self.binary, datedFromNow: .seconds(-3630), byteCount: 200)
        world.observe()
        #expect(world.observations.count == 0)
        #expect(world.plan().candidates.map(\.binary.byteCount) == [200])
    }

    @Test("Settle: a file settled before a step back of the wall clock is not held after it")
    func settledThenWallStepBack() {
        var world = TwoClockWorld()
        world.file(Self.binary, datedFromNow: .seconds(-3600))
        world.file(Self.report, datedFromNow: .seconds(-3600))
        world.observe()
        #expect(world.observations.count == 0)
        world.wallNow = world.wallNow - .seconds(365 * 86_400)
        world.monotonicNow = world.monotonicNow + .seconds(10)
        #expect(world.observe().isEmpty)
        #expect(world.observations.count == 0)
        #expect(world.plan().candidates.count == 1)
    }

    @Test("Settle: a settled file that was unlisted for a pass is judged as first seen when it returns")
    func settledFileUnlistedIsForgotten() {
        var world = TwoClockWorld()
        world.file(Self.binary, datedFromNow: .seconds(-3600))
        world.file(Self.report, datedFromNow: .seconds(-3600))
        world.observe()
        let unlisted = world.entries
        world.entries = []
        world.advance(by: .seconds(10))
        world.observe()
        // Back a day later by the wall clock, unchanged: were it still remembered as settled, it
        // would be sent; forgotten, its wall-clock quiet time is negative and it is held.
        world.entries = unlisted
        world.wallNow = world.wallNow - .seconds(86_400)
        world.observe()
        #expect(world.plan().skips[.binaryNotQuiescent] == 1)
        #expect(world.observations.count == 2)
    }
}
