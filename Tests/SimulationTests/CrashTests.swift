import ForwarderSimulation
import Foundation
import SimulationHarness
import Testing

/// The crash test of issue #7, small enough for a debug build: the real `event-forwarder run`
/// killed with SIGKILL and restarted against the mock on loopback.
///
/// In debug the mock's multipart parsing costs about 50 ms a request, so the folder is small;
/// `forwarder-sim crash` runs the full-size test from a release build.
@Suite("Crash tests", .serialized)
struct CrashTests {
    @Test("Crash: SIGKILL at seeded moments loses nothing, re-sends at most kills × concurrency, state always loads")
    func killedAndRestarted() async throws {
        let options = CrashTestOptions(seed: 7_007, eventCount: 1000, killCount: 5, uploadConcurrency: 4,
                                       forwarderExecutable: try builtForwarderExecutable(), expectedEventsPerSecond: 50,
                                       drainTimeout: .seconds(120))
        let result = try await CrashTest(options).run()
        print("crash test: seed \(result.seed), \(result.eventCount) events, \(result.kills.count) kills ("
            + CrashPhase.allCases.map { "\(result.killCount(in: $0)) \($0.rawValue)" }.joined(separator: ", ")
            + "), duplicates \(result.duplicates), lost \(result.lostEvents)")
        #expect(result.problems.isEmpty, "\(result.problems)")
        #expect(result.kills.count == 5)
        #expect(result.kills.allSatisfy { $0.stateRecords != nil }, "the state loads after every kill")
        #expect(result.lostEvents == 0)
        #expect(result.lostReports == 0)
        #expect(result.duplicates <= result.kills.count * options.uploadConcurrency)
        #expect(result.finalStateRecords == result.expectedRecords)
        #expect(result.expectedRecords == 1000)
        #expect(result.finalExitStatus == 0, "SIGTERM ends the final run with status 0")
        #expect(result.passed)
    }

    @Test("Crash: SIGKILLs while the server resets, refuses, drops answers after commit and answers slowly lose nothing; re-sends stay within kills × concurrency + lost answers")
    func killedDuringFaults() async throws {
        let faults = FaultPlan(rules: [
            FaultRule(name: "reset", fault: .connectionReset, probability: 0.03),
            FaultRule(name: "busy", fault: .httpStatus(code: 503, retryAfterSeconds: 1), probability: 0.03),
            FaultRule(name: "lost-after-commit", fault: .connectionReset, probability: 0.04, afterStore: true),
            FaultRule(name: "slow", fault: .delay(.uniform(minimum: .milliseconds(20), maximum: .milliseconds(200))),
                      probability: 0.2),
        ])
        let options = CrashTestOptions(seed: 7_013, eventCount: 400, killCount: 4, uploadConcurrency: 4,
                                       forwarderExecutable: try builtForwarderExecutable(), expectedEventsPerSecond: 40,
                                       drainTimeout: .seconds(180), faultPlan: faults)
        let result = try await CrashTest(options).run()
        print("crash test with faults: seed \(result.seed), \(result.kills.count) kills, \(result.faultedRequests) requests "
            + "faulted, \(result.responsesLostAfterCommit) answers lost after commit, duplicates \(result.duplicates) "
            + "of \(result.duplicateLimit) allowed, lost \(result.lostEvents)")
        #expect(result.problems.isEmpty, "\(result.problems)")
        #expect(result.kills.count == 4)
        #expect(result.faultedRequests > 0, "the fault plan fired")
        #expect(result.responsesLostAfterCommit > 0, "some answers were lost after the server committed")
        #expect(result.duplicateLimit == 4 * 4 + result.responsesLostAfterCommit)
        #expect(result.lostEvents == 0)
        #expect(result.lostReports == 0)
        #expect(result.duplicates <= result.duplicateLimit)
        #expect(result.finalStateRecords == result.expectedRecords)
        #expect(result.finalExitStatus == 0)
    }

    @Test("Crash: the fault plan the README runs decodes, with faults before and after the server stores")
    func documentedFaultPlanDecodes() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/fault-plans/crash.json")
        let plan = try FaultPlan(json: Data(contentsOf: path))
        #expect(plan.seed == nil, "the crash seed decides the draws")
        #expect(plan.rules.contains { $0.afterStore == true })
        #expect(plan.rules.contains { $0.afterStore != true && $0.fault == .connectionReset })
        #expect(plan.rules.contains { if case .delay = $0.fault { true } else { false } })
    }

    @Test("Crash: a forwarder that records an event before the server accepted it fails the verdict")
    func recordBeforeAcceptanceIsCaught() async throws {
        // Records one event of the folder, then runs the real forwarder, which therefore never
        // uploads it: what a forwarder that recorded first and was killed before uploading leaves.
        let wrapper = try WrapperScript(body: """
            state=$(sed -n 's/^SFM_STATE_FILE = //p' "$3")
            folder=$(sed -n 's/^SERIES3_PATH = //p' "$3")
            if [ ! -e "$state.journal" ]; then
              name=$(ls "$folder" | grep -E '^[A-Za-z0-9]{8}\\.[A-Za-z0-9]{2}0[WwHh]$' | head -n 1)
              digest=$(sha256sum "$folder/$name" | cut -c1-64)
              size=$(stat -c %s "$folder/$name")
              printf 'BLASTWARE-FORWARDER-STATE 2\\n%s\\t%s\\t1\\t0\\t-\\t-\\t%s\\n' "$digest" "$size" "$name" > "$state.journal"
            fi
            """)
        defer { wrapper.remove() }
        let result = try await CrashTest(smallOptions(forwarder: wrapper.path)).run()
        #expect(!result.passed)
        #expect(result.lostEvents == 1)
        #expect(result.problems.contains { $0.contains("records the server never received") }, "\(result.problems)")
    }

    @Test("Crash: a state that does not load after a kill fails the verdict")
    func unloadableStateIsCaught() async throws {
        let wrapper = try WrapperScript(body: """
            state=$(sed -n 's/^SFM_STATE_FILE = //p' "$3")
            printf 'BLASTWARE-FORWARDER-STATE 2\\nnot a record\\nnor this\\n' > "$state.journal"
            """)
        defer { wrapper.remove() }
        let result = try await CrashTest(smallOptions(forwarder: wrapper.path)).run()
        #expect(!result.passed)
        #expect(result.kills.first?.stateRecords == nil)
        #expect(result.problems.contains { $0.contains("does not load") }, "\(result.problems)")
    }

    private func smallOptions(forwarder: String) -> CrashTestOptions {
        CrashTestOptions(seed: 7_008, eventCount: 60, killCount: 1, forwarderExecutable: forwarder,
                         expectedEventsPerSecond: 50, drainTimeout: .seconds(60))
    }

    /// A shell script that, for `run --config FILE`, does `body` (with those arguments as `$1`…)
    /// and then `exec`s the real forwarder with its arguments: a forwarder with one deliberate fault.
    private struct WrapperScript {
        let folder: String
        var path: String { folder + "/event-forwarder" }

        init(body: String) throws {
            let real = try builtForwarderExecutable()
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("crash-wrapper-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let script = """
                #!/bin/sh
                if [ "$1" = run ]; then
                \(body)
                fi
                exec "\(real)" "$@"

                """
            try script.write(toFile: path, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        }

        func remove() { try? FileManager.default.removeItem(atPath: folder) }
    }
}
