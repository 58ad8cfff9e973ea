import ForwarderCore
import ForwarderSimulation
import Foundation
import Testing

/// Runs a scenario and fails with the violations and the command that replays it.
func simulate(_ scenario: SimulationScenario, sourceLocation: SourceLocation = #_sourceLocation) async throws -> SimulationResult {
    let result = try await Simulation(scenario).run()
    let replay = "replay: swift test --filter \"\(Test.current?.name ?? "")\" (seed \(scenario.seed))"
    #expect(result.violations.isEmpty, "\(result.violations.prefix(10).map(\.description).joined(separator: "\n"))\n\(replay)",
            sourceLocation: sourceLocation)
    #expect(result.finished, "the work was not done after \(result.passes.count) passes; \(replay)", sourceLocation: sourceLocation)
    return result
}

/// A fault plan of one rule.
func faults(_ rules: FaultRule..., seed: UInt64 = 7) -> FaultPlan { FaultPlan(seed: seed, rules: rules) }

@Suite("Scenarios")
struct ScenarioTests {
    @Test("Backfill: cap of 500 advances oldest first, with steady progress")
    func backfillCap() async throws {
        let result = try await simulate(SimulationScenario(seed: 11, eventCount: 2000, folderMode: .backlog))
        #expect(result.passes.map(\.forwarded) == [500, 500, 500, 500, 0])
        let times = result.uploads.map { upload in
            result.manifest.first { $0.binary == upload.binaryName }!.binaryModificationTime
        }
        #expect(times == times.sorted(), "uploads go oldest first across passes")
        #expect(result.mockStats.inserted == 2000)
    }

    @Test("Seed-state: after seeding, only events that appear later are forwarded")
    func seedThenNew() async throws {
        let result = try await simulate(SimulationScenario(seed: 12, eventCount: 400, profile: .preset(named: "stuck")!,
                                                           seedStateAfter: .seconds(6 * 3600)))
        let seeded = try #require(result.seedReport?.seeded)
        #expect(seeded > 0)
        #expect(result.mockStats.inserted == result.manifest.count - seeded)
    }

    @Test("Reports: arriving over the delay distribution, each goes with its binary or follows it")
    func reportDelays() async throws {
        let result = try await simulate(SimulationScenario(seed: 13, eventCount: 400, profile: .preset(named: "stuck")!))
        let withReport = result.passes.reduce(0) { $0 + $1.forwardedWithReport }
        #expect(withReport > 300)
    }

    @Test("Reports: one that never arrives goes alone after grace; one after grace is re-sent with its report")
    func lateAndMissingReports() async throws {
        var profile = FolderProfile.preset(named: "stuck")!
        profile.reportNeverWrittenShare = 0.1
        profile.reportLongTailShare = 0.3
        profile.reportLongTailDelay = .seconds(90) ... .seconds(120)
        let result = try await simulate(SimulationScenario(seed: 14, eventCount: 300, profile: profile))
        let resent = result.passes.reduce(0) { $0 + $1.lateReportsResent }
        let missing = result.manifest.filter { $0.report == nil }.count
        #expect(resent > 0)
        #expect(missing > 0)
        #expect(result.mockStats.updated == resent)
        #expect(result.mockStats.skipped == 0)
    }

    @Test("Writing: a binary still being written in chunks waits until it settles")
    func binaryInChunks() async throws {
        var profile = FolderProfile.preset(named: "stuck")!
        profile.binaryWriteDuration = .seconds(20) ... .seconds(40)
        let result = try await simulate(SimulationScenario(seed: 27, eventCount: 200, profile: profile, passInterval: .seconds(7)))
        #expect(result.passes.reduce(0) { $0 + ($1.skips[.binaryNotQuiescent] ?? 0) } > 0)
        #expect(result.mockStats.inserted == 200)
    }

    @Test("Writing: a report still being written holds its binary back")
    func reportBeingWritten() async throws {
        let result = try await simulate(SimulationScenario(seed: 28, eventCount: 300, profile: .preset(named: "stuck")!,
                                                           passInterval: .seconds(3)))
        #expect(result.passes.reduce(0) { $0 + ($1.skips[.reportNotQuiescent] ?? 0) } > 0)
        #expect(result.passes.reduce(0) { $0 + $1.forwardedWithReport } > 250)
    }

    @Test("Faults: server down for 10 simulated minutes, then back; everything arrives once")
    func outage() async throws {
        let plan = faults(FaultRule(name: "down", fault: .closeWithoutResponse,
                                    window: TimeWindow(startSeconds: 3600, durationSeconds: 600)))
        let result = try await simulate(SimulationScenario(seed: 15, eventCount: 300, profile: .preset(named: "stuck")!,
                                                           faultPlan: plan))
        #expect(result.passes.reduce(0) { $0 + $1.failed } > 0)
        #expect(result.mockStats.skipped == 0)
    }

    @Test("Faults: 30 % mixed faults, including lost responses; every event accepted, duplicates only from lost responses")
    func mixedFaults() async throws {
        let plan = faults(
            FaultRule(name: "reset", fault: .connectionReset, probability: 0.06),
            FaultRule(name: "unavailable", fault: .httpStatus(code: 503, retryAfterSeconds: 5), probability: 0.06),
            FaultRule(name: "html", fault: .nonJSONBody, probability: 0.05),
            FaultRule(name: "error-row", fault: .fileErrorRow(detail: "database busy"), probability: 0.05),
            FaultRule(name: "hang", fault: .noAnswer(maximum: .seconds(120)), probability: 0.03),
            FaultRule(name: "lost-response", fault: .connectionReset, probability: 0.05, afterStore: true))
        let result = try await simulate(SimulationScenario(seed: 16, eventCount: 300, profile: .preset(named: "stuck")!,
                                                           faultPlan: plan))
        #expect(result.mockStats.faultedRequests > 50)
        #expect(result.mockStats.skipped <= result.mockStats.storedThenFaulted)
    }

    @Test("Restart: mid-backfill restart re-reads nothing it sent and sends nothing twice")
    func restartMidBackfill() async throws {
        let result = try await simulate(SimulationScenario(seed: 17, eventCount: 1500, folderMode: .backlog,
                                                           restartAfterPasses: [1, 2]))
        #expect(result.mockStats.skipped == 0)
        #expect(result.mockStats.inserted == 1500)
    }

    @Test("Crash: state lost before sync costs duplicates, at most what was lost, and no event")
    func crashBeforeSync() async throws {
        let result = try await simulate(SimulationScenario(seed: 18, eventCount: 1200, folderMode: .backlog,
                                                           crashDuringPasses: [2]))
        #expect(result.lostToCrashes == 500)
        #expect(result.mockStats.skipped == 500)
        #expect(result.mockStats.inserted == 1200)
    }

    @Test("Age: events outside the max-age window are never sent")
    func maxAge() async throws {
        var policy = ScanPolicy()
        policy.maximumEventAge = .seconds(3 * 86_400)
        let result = try await simulate(SimulationScenario(seed: 19, eventCount: 600, folderMode: .backlog, policy: policy))
        let tooOld = result.passes[0].skips[.tooOld] ?? 0
        #expect(tooOld > 0)
        #expect(result.mockStats.inserted == result.manifest.count - tooOld)
    }

    @Test("Noise: noise files are never sent; lower-cased names are events")
    func noiseAndLowercase() async throws {
        var profile = FolderProfile.mixed
        profile.lowercaseNameShare = 0.2
        let result = try await simulate(SimulationScenario(seed: 20, eventCount: 800, profile: profile, folderMode: .backlog))
        #expect(result.passes[0].skips[.notAnEvent, default: 0] > 0)
        #expect(result.uploads.contains { $0.binaryName == $0.binaryName.lowercased() })
    }

    @Test("Stuck trigger: a unit flooding the folder is drained at the cap, oldest first")
    func stuckTrigger() async throws {
        var policy = ScanPolicy()
        policy.forwardsPerPassLimit = 20
        let result = try await simulate(SimulationScenario(seed: 21, eventCount: 600, profile: .preset(named: "stuck")!,
                                                           folderMode: .backlog, policy: policy))
        #expect(result.passes.prefix(30).allSatisfy { $0.forwarded == 20 })
        #expect(result.passes.contains { $0.skips[.passLimitReached, default: 0] > 0 })
        #expect(result.mockStats.inserted == 600)
    }

    @Test("Names: 1995-dated events from a unit whose clock reset are forwarded")
    func clockReset() async throws {
        var profile = FolderProfile.preset(named: "stuck")!
        profile.clockResetDayShare = 0.5
        let result = try await simulate(SimulationScenario(seed: 22, eventCount: 300, profile: profile, folderMode: .backlog))
        let nineties = result.manifest.filter { $0.eventLocalTime.hasPrefix("1995") }
        #expect(!nineties.isEmpty)
        #expect(nineties.allSatisfy { entry in result.uploads.contains { $0.binaryName == entry.binary } })
    }

    @Test("Idempotency: identical bytes under two names are sent once")
    func identicalBytes() async throws {
        let result = try await simulate(SimulationScenario(seed: 23, eventCount: 50, folderMode: .backlog, folderEdits: { folder, plan in
            let original = plan.events[0]
            let copyName = SimEventName(serialNumber: original.name.serialNumber,
                                        secondsSince1985: original.name.secondsSince1985 + 1, kind: original.name.kind)!.fileName
            let bytes = try folder.readContents(of: original.binaryFileName)
            folder.create(copyName, contents: bytes, modificationTime: original.binaryFinish + .seconds(1))
        }))
        #expect(result.uploads.count == 50)
        #expect(result.passes[0].skips[.alreadyForwarded] == 1)
    }

    @Test("Concurrency: four uploads in flight keep the cap, the rules and exactly-once under faults")
    func concurrentUploads() async throws {
        let plan = faults(FaultRule(name: "reset", fault: .connectionReset, probability: 0.1),
                          FaultRule(name: "lost-response", fault: .connectionReset, probability: 0.05, afterStore: true))
        let result = try await simulate(SimulationScenario(seed: 26, eventCount: 1200, folderMode: .backlog, faultPlan: plan,
                                                           uploadConcurrency: 4))
        #expect(result.passes.allSatisfy { $0.uploadsAttempted <= 500 })
        #expect(result.mockStats.inserted == 1200)
    }

    @Test("Determinism: one seed, one run digest; another seed, another digest")
    func determinism() async throws {
        let first = try await Simulation(SimulationScenario(seed: 24, eventCount: 200, profile: .preset(named: "stuck")!)).run()
        let second = try await Simulation(SimulationScenario(seed: 24, eventCount: 200, profile: .preset(named: "stuck")!)).run()
        let other = try await Simulation(SimulationScenario(seed: 25, eventCount: 200, profile: .preset(named: "stuck")!)).run()
        #expect(first.runDigest == second.runDigest)
        #expect(first.runDigest != other.runDigest)
    }

    @Test("Swarm: random profile and fault mix per seed", arguments: 100..<106)
    func swarm(seed: UInt64) async throws {
        var random = SeededRandom(seed: seed)
        let profiles = ["stuck", "blast", "vibration", "mixed"]
        let profile = FolderProfile.preset(named: profiles[Int(random.next() % UInt64(profiles.count))])!
        let kinds: [Fault] = [.connectionReset, .closeWithoutResponse, .httpStatus(code: 500, retryAfterSeconds: nil),
                              .httpStatus(code: 429, retryAfterSeconds: 2), .missingRow, .nonJSONBody,
                              .fileErrorRow(detail: "x"), .noAnswer(maximum: .seconds(90))]
        let rules = (0..<3).map { index in
            FaultRule(name: "rule\(index)", fault: kinds[Int(random.next() % UInt64(kinds.count))],
                      probability: random.unitInterval() * 0.15, afterStore: random.chance(0.3))
        }
        let mode: SimulationScenario.FolderMode = random.chance(0.5) ? .backlog : .live
        let eventCount = profile.name == "stuck" ? 200 : 120
        print("swarm seed \(seed): profile \(profile.name), \(mode), faults \(rules.map(\.fault.kindName))")
        _ = try await simulate(SimulationScenario(seed: seed, eventCount: eventCount, profile: profile, folderMode: mode,
                                                  faultPlan: FaultPlan(seed: seed, rules: rules)))
    }
}

@Suite("Checkers")
struct CheckerTests {
    func upload(_ name: String, report: String?, accepted: Bool) -> SimulatedUpload {
        SimulatedUpload(time: FileTime(nanosecondsSince1970: 0), binaryName: name, binaryDigest: EventDigest(of: Array(name.utf8)),
                        reportName: report,
                        outcome: accepted ? .accepted(ImportFileResult(filename: name, status: "ok"))
                            : .failed(UploadProblem(kind: .transport, detail: "reset")),
                        stored: accepted)
    }

    @Test("Checkers: a re-send after a seen acceptance is caught; retries, late reports and lost records are not")
    func resends() {
        let uploads = [
            upload("A", report: nil, accepted: false), upload("A", report: nil, accepted: true),
            upload("A", report: "A.TXT", accepted: true), upload("A", report: "A.TXT", accepted: true),
            upload("B", report: nil, accepted: true), upload("B", report: nil, accepted: true),
        ]
        #expect(SimulationChecker.unexplainedResends(uploads, lostAcceptances: []) == [3, 5])
        #expect(SimulationChecker.unexplainedResends(uploads, lostAcceptances: [4]) == [3])
    }

    @Test("Checkers: an upload before quiescence, without a ready report, or out of order is flagged")
    func passRules() {
        let now = FileTime(secondsSince1970: 1_000_000)
        let binary = "N844L20G.630H"
        let older = "M529LIY6.N00"
        let listing = [
            FolderEntry(name: binary, byteCount: 1, modificationTime: now - .seconds(2)),
            FolderEntry(name: "N844L20G_630H_ASCII.TXT", byteCount: 1, modificationTime: now - .seconds(100)),
            FolderEntry(name: older, byteCount: 1, modificationTime: now - .seconds(30)),
        ]
        var checker = SimulationChecker(policy: ScanPolicy(), reportsByBinary: [binary: ["N844L20G_630H_ASCII.TXT"], older: []])
        checker.checkPass(1, now: now, listing: listing,
                          uploads: [upload(binary, report: nil, accepted: true), upload(older, report: nil, accepted: true),
                                    upload("Thumbs.db", report: nil, accepted: true)])
        let rules = Set(checker.violations.map(\.rule))
        #expect(rules == ["quiescence", "report-attached", "grace", "oldest-first", "noise"])

        var concurrent = SimulationChecker(policy: ScanPolicy(), reportsByBinary: [binary: ["N844L20G_630H_ASCII.TXT"], older: []])
        let settledListing = listing.map { entry in
            var entry = entry
            entry.modificationTime = entry.modificationTime - .seconds(600)
            return entry
        }
        concurrent.checkPass(2, now: now, listing: settledListing,
                             uploads: [upload(binary, report: "N844L20G_630H_ASCII.TXT", accepted: true),
                                       upload(older, report: nil, accepted: true)], reorderWindow: 2)
        #expect(concurrent.violations.isEmpty, "a swap within the window of two is allowed")
        concurrent.checkPass(3, now: now, listing: settledListing,
                             uploads: [upload(binary, report: "N844L20G_630H_ASCII.TXT", accepted: true),
                                       upload(older, report: nil, accepted: true)], reorderWindow: 1)
        #expect(concurrent.violations.map(\.rule) == ["oldest-first"])
    }
}
