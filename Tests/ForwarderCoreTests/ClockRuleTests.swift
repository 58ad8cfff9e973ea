import ForwarderCore
import Testing

/// A folder judged by two clocks: files are dated relative to the wall clock, and observed at
/// monotonic readings the test chooses.
struct TwoClockWorld {
    var wallNow = FileTime(secondsSince1970: 1_800_000_000)
    var monotonicNow = MonotonicTime.origin
    var entries: [FolderEntry] = []
    var observations = SettleObservations()
    var policy = ScanPolicy(quiescencePeriod: .seconds(5), reportGracePeriod: .seconds(60))

    /// Adds (or replaces) a file dated `offset` from the wall clock: positive is in the future.
    mutating func file(_ name: String, datedFromNow offset: Duration, byteCount: Int64 = 100) {
        entries.removeAll { $0.name == name }
        entries.append(FolderEntry(name: name, byteCount: byteCount, modificationTime: wallNow + offset,
                                   identity: FileIdentity(volume: 1, file: UInt64(name.utf8.count))))
    }

    /// Records the current listing, as the forwarder does at the start of a pass.
    @discardableResult
    mutating func observe() -> [SettleObservations.FutureDatedFile] {
        observations.observe(FolderListing(entries), wallNow: wallNow, monotonicNow: monotonicNow, policy: policy)
    }

    /// Time passes on both clocks.
    mutating func advance(by duration: Duration) {
        wallNow = wallNow + duration
        monotonicNow = monotonicNow + duration
    }

    func plan() -> ScanPlan {
        ScanPlanner.plan(entries: FolderListing(entries), now: wallNow, monotonicNow: monotonicNow, observations: observations,
                         policy: policy, cache: DigestCache(), acceptedRecord: { _ in nil })
    }
}

/// A name whose encoded event time is `time` (read as UTC), for serial 18190.
func eventName(at time: FileTime) -> String {
    let secondsSince1985 = Int(time.nanosecondsSince1970 / 1_000_000_000) - 473_385_600
    return BlastwareEventName(serialNumber: 18190, secondsSince1985: secondsSince1985, kind: .waveform)!.fileName
}

@Suite("Clock rules")
struct ClockRuleTests {
    static let binary = "N844L20G.630H"
    static let report = "N844L20G_630H_ASCII.TXT"

    @Test("Settle: a file dated in the future settles after the quiescence period observed unchanged",
          arguments: [(Duration.seconds(5) - .nanoseconds(1), false), (.seconds(5), true), (.seconds(5) + .nanoseconds(1), true)])
    func futureDatedSettlesOnMonotonicClock(observedFor: Duration, settled: Bool) {
        var world = TwoClockWorld()
        world.file(Self.binary, datedFromNow: .seconds(3600))
        world.file(Self.report, datedFromNow: .seconds(3600))
        world.observe()
        world.advance(by: observedFor)
        world.observe()
        let plan = world.plan()
        #expect(plan.candidates.map(\.binary.name) == (settled ? [Self.binary] : []))
        #expect(plan.skips[.binaryNotQuiescent] == (settled ? nil : 1))
    }

    @Test("Settle: the wall-clock rule still settles a file old at first sight, at its boundary",
          arguments: [(Duration.seconds(5) - .nanoseconds(1), false), (.seconds(5), true), (.seconds(5) + .nanoseconds(1), true)])
    func wallRuleBoundary(age: Duration, settled: Bool) {
        var world = TwoClockWorld()
        world.file(Self.binary, datedFromNow: .zero - age)
        world.file(Self.report, datedFromNow: .seconds(-3600))
        world.observe()
        #expect(world.plan().candidates.count == (settled ? 1 : 0))
    }

    @Test("Settle: a change restarts the observed span")
    func changeRestartsSpan() {
        var world = TwoClockWorld()
        world.file(Self.binary, datedFromNow: .seconds(3600))
        world.file(Self.report, datedFromNow: .seconds(-3600))
        world.observe()
        world.advance(by: .seconds(3))
        world.file(Self.binary, datedFromNow: .seconds(3600), byteCount: 200)
        world.observe()
        world.advance(by: .seconds(5) - .nanoseconds(1))
        world.observe()
        #expect(world.plan().skips[.binaryNotQuiescent] == 1)
        world.advance(by: .nanoseconds(1))
        world.observe()
        #expect(world.plan().candidates.map(\.binary.name) == [Self.binary])
    }

    @Test("Settle: a wall clock stepped back does not hold a file written before the step")
    func wallStepBack() {
        var world = TwoClockWorld()
        world.file(Self.binary, datedFromNow: .seconds(-1))
        world.file(Self.report, datedFromNow: .seconds(-1))
        world.observe()
        world.wallNow = world.wallNow - .seconds(365 * 86_400)
        world.monotonicNow = world.monotonicNow + .seconds(3)
        world.observe()
        #expect(world.plan().skips[.binaryNotQuiescent] == 1)
        world.advance(by: .seconds(1))
        world.observe()
        #expect(world.plan().candidates.map(\.binary.name) == [Self.binary])
    }

    @Test("Settle: a wall clock stepped forward does not settle a file written a moment before the step",
          arguments: [(Duration.seconds(2), false), (.seconds(5), true)])
    func wallStepForward(writtenBeforePass: Duration, settled: Bool) {
        var world = TwoClockWorld()
        world.file(Self.report, datedFromNow: .seconds(-3600))
        world.observe()
        world.advance(by: .seconds(60) - writtenBeforePass)
        world.file(Self.binary, datedFromNow: .zero)
        world.advance(by: writtenBeforePass)
        world.wallNow = world.wallNow + .seconds(3600)
        world.observe()
        let plan = world.plan()
        #expect(plan.candidates.count == (settled ? 1 : 0))
        #expect(plan.skips[.binaryNotQuiescent] == (settled ? nil : 1))
    }

    @Test("Settle: a report dated in the future holds its binary only until observed settled")
    func futureDatedReport() {
        var world = TwoClockWorld()
        world.file(Self.binary, datedFromNow: .seconds(-3600))
        world.file(Self.report, datedFromNow: .seconds(86_400))
        world.observe()
        world.advance(by: .seconds(4))
        world.observe()
        #expect(world.plan().skips[.reportNotQuiescent] == 1)
        world.advance(by: .seconds(1))
        world.observe()
        #expect(world.plan().candidates.first?.report?.name == Self.report)
    }

    @Test("Settle: the report grace period runs on the observed span for a future-dated binary",
          arguments: [(Duration.seconds(60) - .nanoseconds(1), false), (.seconds(60), true)])
    func graceOnObservedSpan(observedFor: Duration, sentAlone: Bool) {
        var world = TwoClockWorld()
        world.file(Self.binary, datedFromNow: .seconds(86_400))
        world.observe()
        world.advance(by: observedFor)
        world.observe()
        let plan = world.plan()
        #expect(plan.candidates.count == (sentAlone ? 1 : 0))
        #expect(plan.skips[.awaitingReport] == (sentAlone ? nil : 1))
    }

    @Test("Skew: a future-dated file is reported once with its skew, again only when it changes")
    func skewReportedOnce() {
        var world = TwoClockWorld()
        world.file(Self.binary, datedFromNow: .seconds(90))
        world.file(Self.report, datedFromNow: .zero)
        let first = world.observe()
        #expect(first == [SettleObservations.FutureDatedFile(name: Self.binary, skew: .seconds(90))])
        world.advance(by: .seconds(10))
        #expect(world.observe().isEmpty)
        world.file(Self.binary, datedFromNow: .seconds(30), byteCount: 300)
        #expect(world.observe().map(\.skew) == [.seconds(30)])
    }

    @Test("Observations: names no longer listed are forgotten")
    func observationsBounded() {
        var world = TwoClockWorld()
        world.file(Self.binary, datedFromNow: .seconds(3600))
        world.file(Self.report, datedFromNow: .seconds(3600))
        world.observe()
        #expect(world.observations.count == 2)
        let unlisted = world.entries.first { $0.name == Self.binary }!
        world.entries.removeAll { $0.name == Self.binary }
        world.advance(by: .seconds(10))
        world.observe()
        #expect(world.observations.count == 1)
        world.entries.append(unlisted)
        world.observe()
        #expect(world.plan().skips[.binaryNotQuiescent] == 1)
    }

    @Test("Backoff: a wall clock stepped back before the last attempt makes the event due, not held",
          arguments: [(Duration.nanoseconds(-1), true), (.zero, false), (.seconds(9), false), (.seconds(10), true)])
    func backoffAfterStepBack(offsetFromLastAttempt: Duration, due: Bool) {
        let lastAttempt = FileTime(secondsSince1970: 1_800_000_000)
        let entry = FolderEntry(name: Self.binary, byteCount: 100, modificationTime: lastAttempt - .seconds(600))
        let attempts = DeliveryAttempts(fileName: Self.binary, digest: EventDigest(of: Array("x".utf8)),
                                        fingerprint: entry.fingerprint, failures: 1, rejections: 0,
                                        lastAttemptAt: lastAttempt, nextAttemptAt: lastAttempt + .seconds(10),
                                        quarantined: false, lastError: "timeout")
        let standing = RetryPlanner.standing(of: entry, attempts: attempts, now: lastAttempt + offsetFromLastAttempt)
        #expect((standing == .due) == due)
    }

    @Test("Age source: with `name`, the name's event time decides the window at its boundary",
          arguments: [(Duration.seconds(-1), true), (.zero, false), (.seconds(1), false)])
    func nameAgeBoundary(offsetFromOldestAllowed: Duration, tooOld: Bool) {
        var world = TwoClockWorld()
        world.policy.eventAgeSource = .name
        let oldestAllowed = world.wallNow - world.policy.maximumEventAge
        world.file(eventName(at: oldestAllowed + offsetFromOldestAllowed), datedFromNow: .seconds(-120))
        world.observe()
        let plan = world.plan()
        #expect(plan.skips[.tooOld] == (tooOld ? 1 : nil))
        #expect(plan.candidates.count == (tooOld ? 0 : 1))
    }

    @Test("Age source: a restored archive with fresh times is too old by name, not by mtime")
    func restoredArchive() {
        var world = TwoClockWorld()
        let tenYearsAgo = world.wallNow - .seconds(10 * 365 * 86_400)
        world.file(eventName(at: tenYearsAgo), datedFromNow: .seconds(-120))
        world.observe()
        #expect(world.plan().candidates.count == 1)
        world.policy.eventAgeSource = .name
        #expect(world.plan().skips[.tooOld] == 1)
        #expect(world.policy.isTooOld(world.entries[0], now: world.wallNow))
    }

    @Test("Age source: with `name`, a recent event with an old mtime is in the window")
    func recentNameOldMtime() {
        var world = TwoClockWorld()
        world.policy.eventAgeSource = .name
        world.file(eventName(at: world.wallNow - .seconds(86_400)), datedFromNow: .seconds(-10 * 365 * 86_400))
        world.observe()
        #expect(world.plan().candidates.count == 1)
        world.policy.eventAgeSource = .modificationTime
        #expect(world.plan().skips[.tooOld] == 1)
    }

    @Test("Age source: a name whose time cannot be decoded falls back to the modification time")
    func undecodableNameFallsBack() {
        let undecodable = "A123ABCD.XY0W"
        let old = FolderEntry(name: undecodable, byteCount: 1, modificationTime: FileTime(secondsSince1970: 1_000))
        #expect(BlastwareEventName(parsing: undecodable) == nil)
        #expect(EventAgeSource.name.eventTime(of: old) == old.modificationTime)
        let decodable = FolderEntry(name: "T190LD5Q.LK0W", byteCount: 1, modificationTime: FileTime(secondsSince1970: 1_000))
        #expect(EventAgeSource.name.eventTime(of: decodable) != decodable.modificationTime)
    }

    @Test("Age source: the name's time is read as UTC seconds since 1985")
    func nameTimeEpoch() {
        let decoded = BlastwareEventName(parsing: "T190LD5Q.LK0W")!
        let entry = FolderEntry(name: "T190LD5Q.LK0W", byteCount: 1, modificationTime: FileTime(secondsSince1970: 0))
        #expect(EventAgeSource.name.eventTime(of: entry).description == "\(decoded.localTime).000Z")
    }

    @Test("Settings: SFM_EVENT_AGE_SOURCE defaults to mtime and accepts name in any case")
    func ageSourceSetting() throws {
        let base = ["SFM_URL": "http://sfm.local:8200"]
        #expect(try SettingsResolver.resolve([SettingsLayer(source: "test", values: base)]).policy.eventAgeSource
            == .modificationTime)
        let byName = try SettingsResolver.resolve([SettingsLayer(source: "test",
                                                                 values: base.merging(["SFM_EVENT_AGE_SOURCE": " Name "]) { $1 })])
        #expect(byName.policy.eventAgeSource == .name)
        #expect {
            try SettingsResolver.resolve([SettingsLayer(source: "test",
                                                        values: base.merging(["SFM_EVENT_AGE_SOURCE": "ctime"]) { $1 })])
        } throws: { error in
            (error as? SettingsError).map { $0.key == "SFM_EVENT_AGE_SOURCE" && $0.value == "ctime" } ?? false
        }
    }
}
