import ForwarderCore
import Testing

/// A tiny vocabulary for planner scenarios: files are named, aged in seconds before `now`.
struct PlannerWorld {
    var now = FileTime(secondsSince1970: 1_800_000_000)
    var entries: [FolderEntry] = []
    var cache = DigestCache()
    var accepted: [EventDigest: ForwardRecord] = [:]
    var policy = ScanPolicy()

    mutating func file(_ name: String, ageSeconds: Int64, byteCount: Int64 = 100, kind: FolderEntry.Kind = .regularFile) {
        entries.append(FolderEntry(name: name, kind: kind, byteCount: byteCount,
                                   modificationTime: now - .seconds(ageSeconds),
                                   identity: FileIdentity(volume: 1, file: UInt64(entries.count + 1))))
    }

    /// Marks a listed binary as hashed and accepted before.
    mutating func acceptedBefore(_ name: String, hadReport: Bool) {
        let entry = entries.first { $0.name == name }!
        let digest = EventDigest(of: Array(name.utf8))
        cache.remember(digest, for: entry)
        accepted[digest] = ForwardRecord(digest: digest, fileName: name, byteCount: entry.byteCount,
                                         hadReport: hadReport, forwardedAt: now, fingerprint: entry.fingerprint)
    }

    func plan() -> ScanPlan {
        let accepted = self.accepted
        return ScanPlanner.plan(entries: FolderListing(entries), now: now, policy: policy, cache: cache, acceptedRecord: { accepted[$0] })
    }
}

@Suite("Scan planner")
struct ScanPlannerTests {
    @Test("Pairing: a settled binary goes with its settled ACH report")
    func pairsACHReport() throws {
        var world = PlannerWorld()
        world.file("N844L20G.630H", ageSeconds: 30)
        world.file("N844L20G_630H_ASCII.TXT", ageSeconds: 20)
        let plan = world.plan()
        let candidate = try #require(plan.candidates.first)
        #expect(plan.candidates.count == 1)
        #expect(candidate.report?.name == "N844L20G_630H_ASCII.TXT")
        #expect(candidate.reason == .firstForward)
    }

    @Test("Pairing: the ACH name wins when both namings exist")
    func achWins() throws {
        var world = PlannerWorld()
        world.file("N844L20G.630H", ageSeconds: 300)
        world.file("N844L20G.630H.TXT", ageSeconds: 200)
        world.file("N844L20G_630H_ASCII.TXT", ageSeconds: 200)
        #expect(world.plan().candidates.first?.report?.name == "N844L20G_630H_ASCII.TXT")
    }

    @Test("Pairing: a manual export pairs when there is no ACH report")
    func manualExport() throws {
        var world = PlannerWorld()
        world.file("M529LIY6.N00", ageSeconds: 30)
        world.file("M529LIY6.N00.TXT", ageSeconds: 30)
        #expect(world.plan().candidates.first?.report?.name == "M529LIY6.N00.TXT")
    }

    @Test("Pairing: names pair regardless of case")
    func caseInsensitive() throws {
        var world = PlannerWorld()
        world.file("n844l20g.630h", ageSeconds: 30)
        world.file("N844L20G_630H_ascii.txt", ageSeconds: 30)
        #expect(world.plan().candidates.first?.report?.name == "N844L20G_630H_ascii.txt")
    }

    @Test("Quiescence: a binary written in the last 5 s waits")
    func binaryNotQuiescent() {
        var world = PlannerWorld()
        world.file("N844L20G.630H", ageSeconds: 4)
        world.file("N844L20G_630H_ASCII.TXT", ageSeconds: 100)
        let plan = world.plan()
        #expect(plan.candidates.isEmpty)
        #expect(plan.skips[.binaryNotQuiescent] == 1)
    }

    @Test("Quiescence: a report still being written holds its binary back, even after the grace period")
    func reportNotQuiescent() {
        var world = PlannerWorld()
        world.file("N844L20G.630H", ageSeconds: 600)
        world.file("N844L20G_630H_ASCII.TXT", ageSeconds: 1)
        let plan = world.plan()
        #expect(plan.candidates.isEmpty)
        #expect(plan.skips[.reportNotQuiescent] == 1)
    }

    @Test("Grace: a binary with no report waits 60 s, then goes alone")
    func grace() throws {
        var world = PlannerWorld()
        world.file("N844L20G.630H", ageSeconds: 59)
        world.file("T190LD5Q.LK0W", ageSeconds: 61)
        let plan = world.plan()
        #expect(plan.skips[.awaitingReport] == 1)
        let candidate = try #require(plan.candidates.first)
        #expect(plan.candidates.count == 1)
        #expect(candidate.binary.name == "T190LD5Q.LK0W")
        #expect(candidate.report == nil)
    }

    @Test("Age window: a binary just inside max age is planned, one just outside is not")
    func ageWindow() {
        var world = PlannerWorld()
        world.policy.maximumEventAge = .seconds(86_400)
        world.file("N844L20G.630H", ageSeconds: 86_399)
        world.file("T190LD5Q.LK0W", ageSeconds: 86_401)
        let plan = world.plan()
        #expect(plan.candidates.map(\.binary.name) == ["N844L20G.630H"])
        #expect(plan.skips[.tooOld] == 1)
    }

    @Test("Backfill: candidates come oldest first, ties by name")
    func oldestFirst() {
        var world = PlannerWorld()
        world.file("T190LD5Q.LK0W", ageSeconds: 100)
        world.file("N844L20G.630H", ageSeconds: 300)
        world.file("M529LIY6.N00", ageSeconds: 100)
        world.file("H907KCPS.000W", ageSeconds: 200)
        #expect(world.plan().candidates.map(\.binary.name) == ["N844L20G.630H", "H907KCPS.000W", "M529LIY6.N00", "T190LD5Q.LK0W"])
    }

    @Test("Idempotency: an unchanged binary accepted before is skipped without reading")
    func alreadyForwarded() {
        var world = PlannerWorld()
        world.file("N844L20G.630H", ageSeconds: 300)
        world.file("N844L20G_630H_ASCII.TXT", ageSeconds: 300)
        world.acceptedBefore("N844L20G.630H", hadReport: true)
        let plan = world.plan()
        #expect(plan.candidates.isEmpty)
        #expect(plan.skips[.alreadyForwarded] == 1)
    }

    @Test("Idempotency: a binary whose fingerprint changed is a candidate again, without a cached digest")
    func changedFingerprint() throws {
        var world = PlannerWorld()
        world.file("N844L20G.630H", ageSeconds: 300)
        world.acceptedBefore("N844L20G.630H", hadReport: false)
        world.entries[0].byteCount += 1
        let candidate = try #require(world.plan().candidates.first)
        #expect(candidate.cachedDigest == nil)
    }

    @Test("Late report: a binary accepted alone is re-sent once its report settles")
    func lateReport() throws {
        var world = PlannerWorld()
        world.file("N844L20G.630H", ageSeconds: 3000)
        world.acceptedBefore("N844L20G.630H", hadReport: false)
        #expect(world.plan().candidates.isEmpty)
        world.file("N844L20G_630H_ASCII.TXT", ageSeconds: 10)
        let candidate = try #require(world.plan().candidates.first)
        #expect(candidate.reason == .lateReport)
        #expect(candidate.report?.name == "N844L20G_630H_ASCII.TXT")
    }

    @Test("Noise: documents, folders and links are never candidates")
    func noise() {
        var world = PlannerWorld()
        for name in ["Thumbs.db", "desktop.ini", "M529LK44.PDF", "BE11529.MLG", "x.tmp"] {
            world.file(name, ageSeconds: 1000)
        }
        world.file("M529LK45.N00", ageSeconds: 1000, kind: .directory)
        world.file("M529LK46.N00", ageSeconds: 1000, kind: .other)
        let plan = world.plan()
        #expect(plan.candidates.isEmpty)
        #expect(plan.skips[.notAnEvent] == 5)
        #expect(plan.skips[.notARegularFile] == 2)
        #expect(plan.eventBinaryCount == 0)
    }

    @Test("Idempotency: after hashing, known content is skipped unless a report is now added")
    func decideAfterHash() {
        let entry = FolderEntry(name: "N844L20G.630H", byteCount: 1, modificationTime: FileTime(nanosecondsSince1970: 0))
        let report = FolderEntry(name: "N844L20G_630H_ASCII.TXT", byteCount: 1, modificationTime: FileTime(nanosecondsSince1970: 0))
        let digest = EventDigest(of: [1, 2, 3])
        func record(hadReport: Bool) -> ForwardRecord {
            ForwardRecord(digest: digest, fileName: "OTHER", byteCount: 1, hadReport: hadReport,
                          forwardedAt: FileTime(nanosecondsSince1970: 0), fingerprint: nil)
        }
        let alone = UploadCandidate(binary: entry, report: nil, cachedDigest: nil, reason: .firstForward)
        let paired = UploadCandidate(binary: entry, report: report, cachedDigest: nil, reason: .firstForward)
        #expect(ScanPlanner.decide(alone, digest: digest, acceptedRecord: nil) == .upload(.firstForward))
        #expect(ScanPlanner.decide(alone, digest: digest, acceptedRecord: record(hadReport: false)) == .skip(.alreadyForwarded))
        #expect(ScanPlanner.decide(paired, digest: digest, acceptedRecord: record(hadReport: true)) == .skip(.alreadyForwarded))
        #expect(ScanPlanner.decide(paired, digest: digest, acceptedRecord: record(hadReport: false)) == .upload(.lateReport))
    }
}
