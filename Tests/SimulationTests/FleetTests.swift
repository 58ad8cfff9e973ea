import ForwarderCore
import ForwarderSimulation
import Foundation
import SimulationHarness
import Testing

/// The fleet: many forwarders against one server with a capacity, and the judges of it.
///
/// One test at a time: the live fleet's server runs in this process, and beside the simulated
/// fleets (each a busy thread) its answers came seconds late, which the live drains measured
/// instead of the forwarders (docs/DECISIONS.md, "The live fleet's full verdict").
@Suite("Fleet", .serialized)
struct FleetTests {
    @Test("Fleet scheduler: time moves only to the next timer, and ties fire in the order they were set")
    func schedulerOrdersTimers() async throws {
        let start = FileTime(secondsSince1970: 1_000)
        let scheduler = FleetScheduler(start: start)
        let order = try await scheduler.run {
            await withTaskGroup(of: (String, FileTime).self) { group in
                for (name, delay) in [("late", 30), ("early", 10), ("tie-a", 20), ("tie-b", 20)] {
                    group.addTask {
                        await scheduler.sleep(until: start + .seconds(Int64(delay)))
                        return (name, scheduler.now)
                    }
                }
                var order: [(String, FileTime)] = []
                for await woke in group { order.append(woke) }
                return order
            }
        }
        #expect(order.map { $0.0 } == ["early", "tie-a", "tie-b", "late"])
        #expect(order.map { $0.1 } == [10, 20, 20, 30].map { start + .seconds(Int64($0)) })
    }

    @Test("Fleet: 50 PCs through a day pass every checker: nothing lost, the server within its limit, no herd, no starvation, drains in time")
    func fiftyPCsThroughADay() async throws {
        let result = try await FleetSimulation(FleetOptions(seed: 2026, pcCount: 50, eventsPerPC: 100)).run()
        let evidence = result.evidence
        #expect(result.finished)
        #expect(FleetChecker.everyEventOnce(evidence).isEmpty)
        #expect(FleetChecker.recordedOnlyAccepted(evidence).isEmpty)
        #expect(FleetChecker.inProgressWithinLimit(evidence).isEmpty)
        #expect(evidence.pcs.filter(\.hasBacklog).count >= 5)
        #expect(evidence.journal.contains { !$0.reachedServer }, "the outage refused connections")
        #expect(FleetChecker.maximumInProgress(evidence.journal).count == result.options.capacity.maximumInProgress,
                "the server was used to its limit")
        #expect(result.verdict.isEmpty, "\(result.verdict.map(\.description).joined(separator: "\n"))")
    }

    @Test("Fleet live: three event-forwarder processes against the mock with a capacity on loopback; nothing lost, the server within its limit")
    func liveFleet() async throws {
        let result = try await LiveFleet(LiveFleetOptions(seed: 12, pcCount: 3, eventsPerPC: 30,
                                                          forwarderExecutable: try builtForwarderExecutable())).run()
        let evidence = result.evidence
        #expect(result.finished)
        #expect(result.requestsWithoutLoggedOutcome == 0, "each request's outcome comes from its forwarder's log")
        #expect(evidence.pcs[0].manifest.count(where: { $0.binaryModificationTime < evidence.day.start }) == 60,
                "PC 0 starts with two days of events never sent")
        #expect(FleetChecker.maximumInProgress(evidence.journal).count > 3, "the backlog PC used more slots than one a PC")
        // On failure the run's own summary says where the time went (drains, delivered rates, load).
        #expect(result.verdict.isEmpty, """
            \(result.verdict.map(\.description).joined(separator: "\n"))
            \(FleetReport.summary(evidence).joined(separator: "\n"))
            load average at the end: \((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "not known")
            """)
        #expect(result.evidence.journal.contains { !$0.reachedServer }, "the outage reset connections")
        #expect(Set(result.evidence.journal.map(\.pc)) == [0, 1, 2])
    }

    @Test("Fleet live evidence: an answer the forwarder logged as a timeout explains its re-send; unlogged it would not")
    func liveEvidenceTakesTheForwardersWord() throws {
        let day = FleetDay()
        let at = { (seconds: Double) in day.start + .seconds(seconds) }
        let log = try CrashTest.makeTemporaryFolder() + "/run.log"
        defer { try? FileManager.default.removeItem(atPath: (log as NSString).deletingLastPathComponent) }
        func line(_ message: String, _ name: String, _ seconds: Double, error: String? = nil) throws -> String {
            var object = ["message": message, "event.name": name, "time": "\(at(seconds))", "level": "info"]
            object["error"] = error
            return String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        }
        try [line("forwarded", "A", 1), line("upload failed; will retry after backoff", "B", 11, error: "timeout: no answer in 10 s"),
             line("pass finished", "B", 11.5), line("forwarded", "B", 13),
             line("upload failed; will retry after backoff", "C", 20.002, error: "HTTP 429: over capacity")].joined(separator: "\n")
            .write(toFile: log, atomically: true, encoding: .utf8)
        let outcomes = try LiveFleetLog.outcomes(ofLogAt: log)
        #expect(outcomes.map(\.binaryName) == ["A", "B", "B", "C"], "only lines about an upload's answer count")

        let served = { (seconds: Double) in FleetRequest.ServerAnswer.served(startedAt: at(seconds), finishedAt: at(seconds + 0.4), status: 200) }
        let journal = [Self.request(at: 0, day: day, answer: served(0), name: "A"),
                       Self.request(at: 0, day: day, answer: served(0.5), name: "B"),
                       Self.request(at: 12, day: day, answer: served(12), stored: false, alreadyHeld: true, name: "B"),
                       // Refused over capacity: the mock did not read the body, so the journal names no binary.
                       Self.request(at: 20, day: day, answer: .refused(status: 429), stored: false, name: ""),
                       Self.request(at: 30, day: day, answer: .refused(status: 429), stored: false, name: "")]
        let read = LiveFleetLog.withLoggedOutcomes(journal, logs: [outcomes])
        #expect(read.unlogged == 1, "the refusal at 30 s has no line")
        #expect(read.requests.map { $0.clientOutcome?.isAccepted } == [true, false, true, false, nil])
        func evidence(_ requests: [FleetRequest]) -> FleetEvidence {
            FleetEvidence(pcs: [], journal: requests, storedEvents: [], recordedDigests: [], day: day,
                          capacity: FleetServerCapacity(), settleAllowance: .seconds(5), endedAt: day.end)
        }
        #expect(FleetChecker.everyEventOnce(evidence(read.requests)).isEmpty)
        let asTheServerSawIt = journal.map { request in
            var seen = request
            seen.clientOutcome = .accepted(ImportFileResult(filename: request.binaryName, status: "ok"))
            return seen
        }
        #expect(Self.rules(FleetChecker.everyEventOnce(evidence(asTheServerSawIt))) == ["exactly-once"])
    }

    @Test("Fleet: one seed gives one run digest; another seed another")
    func deterministic() async throws {
        let options = FleetOptions(seed: 7, pcCount: 6, eventsPerPC: 60)
        let first = try await FleetSimulation(options).run()
        let second = try await FleetSimulation(options).run()
        var other = options
        other.seed = 8
        let third = try await FleetSimulation(other).run()
        #expect(first.runDigest == second.runDigest)
        #expect(first.evidence.journal.count == second.evidence.journal.count)
        #expect(third.runDigest != first.runDigest)
    }

    @Test("Fleet: PCs hold distinct unit serials")
    func distinctSerials() {
        let pcs = FleetPC.plan(count: 50, eventsPerPC: 20, seed: 3, day: FleetDay())
        var owner: [String: Int] = [:]
        for pc in pcs {
            for entry in pc.manifest {
                #expect(owner[entry.serial, default: pc.index] == pc.index, "\(entry.serial) on two PCs")
                owner[entry.serial] = pc.index
            }
        }
        #expect(Set(owner.values).count > 40)
    }

    // MARK: Each checker can fail

    /// A small fleet's evidence, every PC with a backlog, which the tests below spoil one way each.
    static func smallFleet() async throws -> FleetEvidence {
        try await FleetSimulation(FleetOptions(seed: 11, pcCount: 4, eventsPerPC: 40, day: FleetDay(backlogShare: 1))).run().evidence
    }

    static func rules(_ violations: [CheckerViolation]) -> Set<String> { Set(violations.map(\.rule)) }

    static func request(pc: Int = 0, at seconds: Int64, day: FleetDay, answer: FleetRequest.ServerAnswer,
                        stored: Bool = true, alreadyHeld: Bool = false, name: String = "X",
                        outcome: UploadOutcome? = nil) -> FleetRequest {
        FleetRequest(pc: pc, arrivedAt: day.start + .seconds(seconds), byteCount: 10_000, binaryName: name,
                     binaryDigest: EventDigest(of: Data(name.utf8)), hasReport: true, answer: answer, stored: stored,
                     alreadyHeld: alreadyHeld, clientOutcome: outcome)
    }

    @Test("Fleet checker: an event missing at the server, or sent again after it was seen accepted, fails")
    func lostAndDuplicated() async throws {
        let good = try await Self.smallFleet()
        #expect(FleetChecker.everyEventOnce(good).isEmpty)
        var lost = good
        lost.storedEvents.removeFirst()
        #expect(Self.rules(FleetChecker.everyEventOnce(lost)) == ["lost"])

        var duplicated = good
        let accepted = try #require(good.journal.first { $0.clientOutcome?.isAccepted == true })
        var again = accepted
        again.arrivedAt = good.endedAt
        again.alreadyHeld = true
        again.stored = false
        duplicated.journal.append(again)
        #expect(Self.rules(FleetChecker.everyEventOnce(duplicated)) == ["exactly-once"])
        // The same re-send after a timeout the forwarder saw is what at-least-once allows.
        var timedOut = duplicated
        let index = try #require(timedOut.journal.firstIndex(of: accepted))
        timedOut.journal[index].clientOutcome = .failed(UploadProblem(kind: .timeout, detail: "late"))
        #expect(FleetChecker.everyEventOnce(timedOut).isEmpty)
    }

    @Test("Fleet checker: a PC that records what the server did not accept from it fails")
    func recordedUnaccepted() async throws {
        let good = try await Self.smallFleet()
        #expect(FleetChecker.recordedOnlyAccepted(good).isEmpty)
        var bad = good
        bad.recordedDigests[0].append(EventDigest(of: Data("never sent".utf8)))
        #expect(Self.rules(FleetChecker.recordedOnlyAccepted(bad)) == ["recorded-unaccepted"])
        var wrongPC = good
        wrongPC.recordedDigests[1].append(contentsOf: good.recordedDigests[0].prefix(1))
        #expect(Self.rules(FleetChecker.recordedOnlyAccepted(wrongPC)) == ["recorded-unaccepted"])
    }

    @Test("Fleet checker: more requests in progress than the limit fails; back to back does not")
    func inProgress() {
        let day = FleetDay()
        let capacity = FleetServerCapacity(maximumInProgress: 2)
        func evidence(_ spans: [(Int64, Int64)]) -> FleetEvidence {
            FleetEvidence(pcs: [], journal: spans.enumerated().map { index, span in
                Self.request(at: span.0, day: day, answer: .served(startedAt: day.start + .seconds(span.0),
                                                                   finishedAt: day.start + .seconds(span.1), status: 200),
                             name: "E\(index)")
            }, storedEvents: [], recordedDigests: [], day: day, capacity: capacity, settleAllowance: .seconds(120),
                          endedAt: day.end)
        }
        #expect(FleetChecker.inProgressWithinLimit(evidence([(0, 10), (0, 10), (10, 20), (10, 20)])).isEmpty)
        #expect(Self.rules(FleetChecker.inProgressWithinLimit(evidence([(0, 10), (0, 10), (9, 20)]))) == ["in-progress"])
    }

    @Test("Fleet checker: a herd after the outage fails; a minute at capacity does not")
    func recoveryHerd() {
        let day = FleetDay()
        // One request in progress at a time, 1 s each: 60 a minute.
        let capacity = FleetServerCapacity(maximumInProgress: 1, serviceTimePerRequest: .seconds(1), serviceTimePerMegabyte: .zero)
        let recovery = Int64((day.outageStart + day.outageDuration).secondsValue)
        func evidence(requests: Int) -> FleetEvidence {
            FleetEvidence(pcs: [], journal: (0..<requests).map { index in
                let at = recovery + Int64(index * 59 / max(1, requests))
                return index % 2 == 0
                    ? Self.request(at: at, day: day, answer: .served(startedAt: day.start + .seconds(at),
                                                                     finishedAt: day.start + .seconds(at + 1), status: 200),
                                   name: "E\(index)")
                    : Self.request(at: at, day: day, answer: .refused(status: 429), name: "E\(index)")
            }, storedEvents: [], recordedDigests: [], day: day, capacity: capacity, settleAllowance: .seconds(120),
                          endedAt: day.end)
        }
        #expect(FleetChecker.recoveryRate(evidence(requests: 90)).isEmpty)
        #expect(Self.rules(FleetChecker.recoveryRate(evidence(requests: 91))) == ["recovery-rate"])
    }

    @Test("Fleet checker: a PC starved and a fleet draining slower than the capacity allows fail")
    func starvationAndDrain() async throws {
        let good = try await Self.smallFleet()
        // Hold back every backlog event of one backlog PC until late, as a starving fleet would.
        var starved = good
        let backlogPCs = good.pcs.indices.filter { good.pcs[$0].hasBacklog }
        let victim = try #require(backlogPCs.first)
        let late = good.day.start + .seconds(6 * 3600)
        let victimDigests = Set(good.pcs[victim].manifest.filter { $0.binaryModificationTime <= good.day.start }.compactMap(\.digest))
        for index in starved.journal.indices where victimDigests.contains(starved.journal[index].binaryDigest) {
            guard case .served(_, _, let status) = starved.journal[index].answer else { continue }
            starved.journal[index].answer = .served(startedAt: late, finishedAt: late + .seconds(1), status: status)
        }
        #expect(backlogPCs.count == 4)
        #expect(FleetChecker.noStarvation(good).isEmpty)
        #expect(Self.rules(FleetChecker.drainTime(starved)) == ["drain"])
        #expect(Self.rules(FleetChecker.noStarvation(starved)) == ["starvation"])
    }

    @Test("Fleet checker: a drain is allowed the rate the server delivered: answers read twice as late halve it, never raise it")
    func deliveredCapacity() async throws {
        let good = try await Self.smallFleet()
        let drain = try #require(FleetChecker.drains(good).first { $0.start == good.day.outage.lowerBound && $0.events > 0 })
        let fullSpeed = FleetChecker.deliveredCapacityPerSecond(drain, evidence: good)
        #expect(abs(fullSpeed - good.capacityPerSecond) < 1e-9 * good.capacityPerSecond,
                "outside the slow period the simulated server delivers its capacity")
        func seen(_ evidence: FleetEvidence, after share: Double) -> FleetEvidence {
            var moved = evidence
            for index in moved.journal.indices {
                guard case .served(let startedAt, let finishedAt, _) = moved.journal[index].answer else { continue }
                moved.journal[index].outcomeSeenAt = startedAt + (finishedAt - startedAt) * share
            }
            return moved
        }
        let late = seen(good, after: 2)
        let halved = FleetChecker.deliveredCapacityPerSecond(drain, evidence: late)
        #expect(abs(halved - good.capacityPerSecond / 2) < 1e-6 * good.capacityPerSecond)
        let work = Duration.seconds(Double(drain.events) / good.capacityPerSecond)
        let widened = FleetChecker.drainAllowance(drain, evidence: late) - FleetChecker.drainAllowance(drain, evidence: good)
        #expect(abs((widened - work * FleetChecker.drainFactor).secondsValue) < 0.001,
                "half the rate allows the drain's work once more")
        let early = seen(good, after: 0.5)
        #expect(FleetChecker.deliveredCapacityPerSecond(drain, evidence: early) == fullSpeed,
                "an answer seen before the server's finish counts from the finish")
    }

    @Test("Fleet checker: refusals above 5 % of accepted requests fail; 5 % does not")
    func refusals() {
        let day = FleetDay()
        func evidence(accepted: Int, refused: Int) -> FleetEvidence {
            let served = (0..<accepted).map { index in
                Self.request(at: Int64(index), day: day, answer: .served(startedAt: day.start + .seconds(Int64(index)),
                                                                         finishedAt: day.start + .seconds(Int64(index) + 1),
                                                                         status: 200), name: "E\(index)")
            }
            let refusals = (0..<refused).map { index in
                Self.request(at: Int64(index), day: day, answer: .refused(status: 429), stored: false,
                             name: "E\(index)")
            }
            return FleetEvidence(pcs: [], journal: served + refusals, storedEvents: [], recordedDigests: [], day: day,
                                 capacity: FleetServerCapacity(), settleAllowance: .seconds(120), endedAt: day.end)
        }
        #expect(FleetChecker.refusals(evidence(accepted: 100, refused: 5)).isEmpty)
        #expect(Self.rules(FleetChecker.refusals(evidence(accepted: 100, refused: 6))) == ["refusals"])
    }
}
