import ForwarderCore
import Foundation
import Testing

@Suite("Retry planner")
struct RetryPlannerTests {
    let now = FileTime(secondsSince1970: 1_800_000_000)
    let digest = EventDigest(of: Array("event".utf8))
    let fingerprint = FileFingerprint(byteCount: 100, modificationTime: FileTime(secondsSince1970: 1_799_999_000),
                                      identity: FileIdentity(volume: 1, file: 7))
    let transport = UploadProblem(kind: .transport, detail: "connection refused")
    let refusal = UploadProblem(kind: .fileError, detail: "not a Blastware file")

    func fail(_ previous: DeliveryAttempts?, _ problem: UploadProblem, rejected: Bool, policy: RetryPolicy = RetryPolicy(),
              random: inout SplitMix64) -> DeliveryAttempts {
        RetryPlanner.afterFailure(previous, fileName: "N844L20G.630H", digest: digest, fingerprint: fingerprint,
                                  problem: problem, rejected: rejected, now: now, policy: policy, random: &random)
    }

    @Test("Backoff: the ceiling doubles from the base and stops at the maximum")
    func ceilingDoubles() {
        let policy = RetryPolicy(baseDelay: .seconds(30), maximumDelay: .seconds(3_600))
        let ceilings = (1...9).map { RetryPlanner.backoffCeiling(afterFailures: $0, policy: policy) }
        #expect(ceilings == [30, 60, 120, 240, 480, 960, 1_920, 3_600, 3_600].map { Duration.seconds($0) })
        #expect(RetryPlanner.backoffCeiling(afterFailures: 10_000, policy: policy) == .seconds(3_600))
    }

    @Test("Backoff: full jitter spreads waits over [0, ceiling] and one seed gives one schedule")
    func fullJitter() {
        var random = SplitMix64(seed: 42)
        var waits: [Duration] = []
        for _ in 0..<2_000 {
            let attempts = fail(nil, transport, rejected: false, random: &random)
            waits.append(attempts.nextAttemptAt - now)
        }
        #expect(waits.allSatisfy { $0 >= .zero && $0 <= .seconds(30) })
        let mean = waits.map(\.secondsValue).reduce(0, +) / Double(waits.count)
        #expect(abs(mean - 15) < 1.5, "uniform over [0, 30 s] has mean 15 s, got \(mean)")
        #expect(waits.filter { $0 < .seconds(3) }.count > 100, "full jitter, not equal jitter: short waits happen")
        var again = SplitMix64(seed: 42)
        #expect(fail(nil, transport, rejected: false, random: &again).nextAttemptAt == now + waits[0])
    }

    @Test("Backoff: Retry-After is a floor, cut to a day")
    func retryAfterFloor() {
        var random = SplitMix64(seed: 1)
        var problem = UploadProblem(kind: .httpStatus(503), detail: "busy", retryAfter: .seconds(600))
        #expect(fail(nil, problem, rejected: false, random: &random).nextAttemptAt == now + .seconds(600))
        problem.retryAfter = .seconds(10 * 86_400)
        #expect(fail(nil, problem, rejected: false, random: &random).nextAttemptAt == now + .seconds(86_400))
    }

    @Test("Backoff: a Retry-After longer than the backoff, on a reply that pauses nothing, is the wait")
    func retryAfterAboveTheCeiling() {
        var random = SplitMix64(seed: 1)
        let problem = UploadProblem(kind: .httpStatus(500), detail: "boom", retryAfter: .seconds(86_000))
        #expect(fail(nil, problem, rejected: false, random: &random).nextAttemptAt == now + .seconds(86_000),
                "a first failure's jittered backoff is far shorter; the server's wait wins")
    }

    @Test("Backoff: a 429 or 503 that pauses the forwarder holds its event for the pause only, however often it failed",
          arguments: [429, 503])
    func serverPauseIsTheWholeWait(status: Int) {
        var random = SplitMix64(seed: 6)
        var attempts: DeliveryAttempts?
        for _ in 0..<6 { attempts = fail(attempts, transport, rejected: false, random: &random) }
        let busy = UploadProblem(kind: .httpStatus(status), detail: "busy", retryAfter: .seconds(5))
        let paused = fail(attempts, busy, rejected: false, random: &random)
        #expect(paused.nextAttemptAt == now + .seconds(5), "not the 960 s ceiling of a 7th failure")
        #expect(paused.failures == 7)
        // Without Retry-After, or on another status, the backoff stands and Retry-After is a floor.
        let unpaused = fail(attempts, UploadProblem(kind: .httpStatus(500), detail: "boom", retryAfter: .seconds(5)),
                            rejected: false, random: &random)
        #expect(unpaused.nextAttemptAt - now >= .seconds(5))
        #expect(unpaused.nextAttemptAt - now <= .seconds(1_920))
    }

    @Test("Recovery: once the server answers, transient waits end; refused and quarantined events keep theirs")
    func releasedOnRecovery() throws {
        var random = SplitMix64(seed: 7)
        var transient: DeliveryAttempts?
        for _ in 0..<5 { transient = fail(transient, transport, rejected: false, random: &random) }
        var waiting = try #require(transient)
        waiting.nextAttemptAt = now + .seconds(400)
        let released = RetryPlanner.releasedOnRecovery(waiting, now: now + .seconds(10))
        #expect(released?.nextAttemptAt == now + .seconds(10))
        #expect(released?.failures == 5, "the count stays: a failure after recovery backs off further")
        #expect(RetryPlanner.releasedOnRecovery(waiting, now: now + .seconds(400)) == nil, "already due")

        var refused = fail(waiting, refusal, rejected: true, random: &random)
        refused.nextAttemptAt = now + .seconds(400)
        #expect(RetryPlanner.releasedOnRecovery(refused, now: now) == nil, "the server refused this event itself")
        var quarantined = waiting
        quarantined.quarantined = true
        #expect(RetryPlanner.releasedOnRecovery(quarantined, now: now) == nil)
    }

    @Test("Planner: of the events backing off, the one due first is offered as the circuit's probe")
    func plannerOffersSoonestBackingOff() {
        var world = PlannerWorld()
        world.file("N844L20G.630H", ageSeconds: 900)
        world.file("N844L20G.631H", ageSeconds: 800)
        world.file("N844L20G.632H", ageSeconds: 700)
        var random = SplitMix64(seed: 8)
        var attempts: [String: DeliveryAttempts] = [:]
        for (entry, wait) in zip(world.entries, [300, 60, 120]) {
            var failed = RetryPlanner.afterFailure(nil, fileName: entry.name, digest: digest, fingerprint: entry.fingerprint,
                                                   problem: transport, rejected: false, now: world.now,
                                                   policy: RetryPolicy(), random: &random)
            failed.nextAttemptAt = world.now + .seconds(Int64(wait))
            attempts[entry.name] = failed
        }
        let plan = ScanPlanner.plan(entries: FolderListing(world.entries), now: world.now, policy: world.policy, cache: world.cache,
                                    acceptedRecord: { _ in nil }, deliveryAttempts: { attempts[$0] })
        #expect(plan.candidates.isEmpty)
        #expect(plan.skips[.backingOff] == 3)
        #expect(plan.soonestBackingOff?.binary.name == "N844L20G.631H")
        let none = ScanPlanner.plan(entries: FolderListing(world.entries), now: world.now, policy: world.policy, cache: world.cache,
                                    acceptedRecord: { _ in nil })
        #expect(none.soonestBackingOff == nil, "nothing waits")
    }

    @Test("Quarantine: the 5th refusal quarantines; transient failures never do")
    func quarantineAfterRefusals() {
        var random = SplitMix64(seed: 3)
        var attempts: DeliveryAttempts?
        for _ in 0..<20 { attempts = fail(attempts, transport, rejected: false, random: &random) }
        #expect(attempts?.quarantined == false)
        #expect(attempts?.failures == 20)
        for round in 1...5 {
            attempts = fail(attempts, refusal, rejected: true, random: &random)
            #expect(attempts?.quarantined == (round == 5))
        }
        #expect(attempts?.rejections == 5)
        #expect(attempts?.lastError == "server error row: not a Blastware file")
    }

    @Test("Attempts: other bytes under the same name start counting afresh")
    func replacedBytesStartAfresh() {
        var random = SplitMix64(seed: 5)
        let old = fail(nil, refusal, rejected: true, random: &random)
        let fresh = RetryPlanner.afterFailure(old, fileName: old.fileName, digest: EventDigest(of: Array("other".utf8)),
                                              fingerprint: fingerprint, problem: refusal, rejected: true, now: now,
                                              policy: RetryPolicy(), random: &random)
        #expect((fresh.failures, fresh.rejections) == (1, 1))
    }

    @Test("Standing: backing off until the time, quarantined until released, due once the file changes")
    func standing() {
        var random = SplitMix64(seed: 9)
        let entry = FolderEntry(name: "N844L20G.630H", byteCount: 100, modificationTime: fingerprint.modificationTime,
                                identity: fingerprint.identity)
        var attempts = fail(nil, transport, rejected: false, random: &random)
        attempts.nextAttemptAt = now + .seconds(10)
        #expect(RetryPlanner.standing(of: entry, attempts: attempts, now: now) == .backingOff(until: now + .seconds(10)))
        #expect(RetryPlanner.standing(of: entry, attempts: attempts, now: now + .seconds(10)) == .due)
        attempts.quarantined = true
        #expect(RetryPlanner.standing(of: entry, attempts: attempts, now: now + .seconds(86_400)) == .quarantined)
        var rewritten = entry
        rewritten.modificationTime = now
        #expect(RetryPlanner.standing(of: rewritten, attempts: attempts, now: now) == .due)
        #expect(RetryPlanner.standing(of: entry, attempts: nil, now: now) == .due)
    }

    @Test("Planner: events backing off or quarantined are skipped before the cap, so newer ones go")
    func plannerSkipsWaitingEvents() {
        var world = PlannerWorld()
        world.policy.forwardsPerPassLimit = 1
        world.file("N844L20G.630H", ageSeconds: 900)
        world.file("N844L20G.631H", ageSeconds: 800)
        world.file("N844L20G.632H", ageSeconds: 700)
        var random = SplitMix64(seed: 2)
        var attempts: [String: DeliveryAttempts] = [:]
        for (index, entry) in world.entries.prefix(2).enumerated() {
            var failed = RetryPlanner.afterFailure(nil, fileName: entry.name, digest: digest, fingerprint: entry.fingerprint,
                                                   problem: refusal, rejected: true, now: world.now,
                                                   policy: RetryPolicy(), random: &random)
            failed.nextAttemptAt = world.now + .seconds(60)
            failed.quarantined = index == 1
            attempts[entry.name] = failed
        }
        let plan = ScanPlanner.plan(entries: FolderListing(world.entries), now: world.now, policy: world.policy, cache: world.cache,
                                    acceptedRecord: { _ in nil }, deliveryAttempts: { attempts[$0] })
        #expect(plan.candidates.map(\.binary.name) == ["N844L20G.632H"])
        #expect(plan.skips[.backingOff] == 1)
        #expect(plan.skips[.quarantined] == 1)
    }

    @Test("State: attempts and releases survive encoding; damaged attempt lines are refused")
    func attemptLines() throws {
        var random = SplitMix64(seed: 4)
        var attempts = fail(nil, UploadProblem(kind: .httpStatus(500), detail: "boom\twith\ttabs\nand lines"),
                            rejected: false, random: &random)
        attempts.fileName = "N844L20G 630H ü.630H"
        for line in [StateLine.attempts(attempts), .released(fileName: attempts.fileName)] {
            let text = StateRecordCodec.encode(line)
            #expect(text.hasSuffix("\n") && text.dropLast().split(separator: "\n").count == 1)
            let decoded = Array(text.utf8.dropLast()).withUnsafeBufferPointer { StateRecordCodec.decodeLine($0) }
            if case .attempts = line {
                attempts.lastError = "HTTP 500: boom with tabs and lines"
                #expect(decoded == .attempts(attempts))
            } else {
                #expect(decoded == line)
            }
        }
        let good = StateRecordCodec.encode(.attempts(attempts)).dropLast()
        let damaged = [good.replacingOccurrences(of: "\t1\t", with: "\tx\t"), "A\t" + good.dropFirst(4), "R\t", "X\tname",
                       String(good.prefix(40))]
        for text in damaged {
            #expect(Array(text.utf8).withUnsafeBufferPointer { StateRecordCodec.decodeLine($0) } == nil, "\(text)")
        }
    }
}

@Suite("Pass report")
struct PassReportTests {
    @Test("Upgrade: a last-pass report written before quarantine existed still decodes; new ones round-trip")
    func earlierReportsDecode() throws {
        var old = PassReport(startedAt: FileTime(nanosecondsSince1970: 5))
        old.finishedAt = FileTime(nanosecondsSince1970: 9)
        old.forwarded = 3
        old.skip(.awaitingReport, count: 2)
        old.interrupted = true
        var fields = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(old)) as? [String: Any])
        fields["quarantined"] = nil
        fields["circuitOpened"] = nil
        let earlier = try JSONSerialization.data(withJSONObject: fields)
        let decoded = try JSONDecoder().decode(PassReport.self, from: earlier)
        #expect(decoded.finishedAt == FileTime(nanosecondsSince1970: 9))
        #expect((decoded.forwarded, decoded.skips[.awaitingReport], decoded.interrupted) == (3, 2, true))
        #expect((decoded.quarantined, decoded.circuitOpened) == (0, false))

        var report = PassReport(startedAt: FileTime(nanosecondsSince1970: 1))
        report.quarantined = 2
        report.circuitOpened = true
        report.skip(.backingOff, count: 4)
        #expect(try JSONDecoder().decode(PassReport.self, from: JSONEncoder().encode(report)) == report)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(PassReport.self, from: Data(#"{"forwarded": 1}"#.utf8)) }
    }
}
