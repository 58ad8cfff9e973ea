import ForwarderCore
import Testing

/// The planner's time thresholds at their boundary, a nanosecond before and a nanosecond after.
///
/// Killed mutants (scripts/mutants.json): `planner-quiescence-boundary` and
/// `planner-age-boundary`, which move a boundary by one comparison (`<` to `<=`).
extension ScanPlannerTests {
    /// Adds a file whose modification time is `age` before the world's `now`, to the nanosecond.
    static func file(_ name: String, age: Duration, in world: inout PlannerWorld) {
        world.entries.append(FolderEntry(name: name, kind: .regularFile, byteCount: 100,
                                         modificationTime: world.now - age,
                                         identity: FileIdentity(volume: 1, file: UInt64(world.entries.count + 1))))
    }

    @Test("Quiescence: a binary quiet for exactly the quiescence period is settled; a nanosecond less is not")
    func binaryQuiescenceBoundary() {
        var world = PlannerWorld()
        Self.file("N844L20G.630H", age: .seconds(5), in: &world)
        Self.file("N844L20G_630H_ASCII.TXT", age: .seconds(100), in: &world)
        Self.file("T190LD5Q.LK0W", age: .seconds(5) - .nanoseconds(1), in: &world)
        Self.file("T190LD5Q_LK0W_ASCII.TXT", age: .seconds(100), in: &world)
        Self.file("P522LE6K.0H0W", age: .seconds(5) + .nanoseconds(1), in: &world)
        Self.file("P522LE6K_0H0W_ASCII.TXT", age: .seconds(100), in: &world)
        let plan = world.plan()
        #expect(plan.candidates.map(\.binary.name) == ["P522LE6K.0H0W", "N844L20G.630H"])
        #expect(plan.skips[.binaryNotQuiescent] == 1)
    }

    @Test("Quiescence: a report quiet for exactly the quiescence period goes with its binary; a nanosecond less holds it")
    func reportQuiescenceBoundary() {
        var world = PlannerWorld()
        Self.file("N844L20G.630H", age: .seconds(100), in: &world)
        Self.file("N844L20G_630H_ASCII.TXT", age: .seconds(5), in: &world)
        Self.file("T190LD5Q.LK0W", age: .seconds(100), in: &world)
        Self.file("T190LD5Q_LK0W_ASCII.TXT", age: .seconds(5) - .nanoseconds(1), in: &world)
        let plan = world.plan()
        #expect(plan.candidates.map(\.binary.name) == ["N844L20G.630H"])
        #expect(plan.candidates.first?.report?.name == "N844L20G_630H_ASCII.TXT")
        #expect(plan.skips[.reportNotQuiescent] == 1)
    }

    @Test("Grace: a binary alone for exactly the grace period goes; a nanosecond less waits")
    func graceBoundary() {
        var world = PlannerWorld()
        Self.file("N844L20G.630H", age: .seconds(60), in: &world)
        Self.file("T190LD5Q.LK0W", age: .seconds(60) - .nanoseconds(1), in: &world)
        Self.file("P522LE6K.0H0W", age: .seconds(60) + .nanoseconds(1), in: &world)
        let plan = world.plan()
        #expect(plan.candidates.map(\.binary.name) == ["P522LE6K.0H0W", "N844L20G.630H"])
        #expect(plan.skips[.awaitingReport] == 1)
    }

    @Test("Age window: a binary exactly as old as the window is planned; a nanosecond older is not")
    func ageWindowBoundary() {
        var world = PlannerWorld()
        world.policy.maximumEventAge = .seconds(86_400)
        Self.file("N844L20G.630H", age: .seconds(86_400), in: &world)
        Self.file("T190LD5Q.LK0W", age: .seconds(86_400) + .nanoseconds(1), in: &world)
        Self.file("P522LE6K.0H0W", age: .seconds(86_400) - .nanoseconds(1), in: &world)
        let plan = world.plan()
        #expect(plan.candidates.map(\.binary.name) == ["N844L20G.630H", "P522LE6K.0H0W"])
        #expect(plan.skips[.tooOld] == 1)
    }
}
