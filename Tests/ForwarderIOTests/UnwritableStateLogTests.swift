import ForwarderCore
@testable import ForwarderIO
import Testing

@Suite("Unwritable state log")
struct UnwritableStateLogTests {
    @Test("Log: a state that cannot be written is said once per error, and its end once with the passes it lasted")
    func oncePerChange() {
        let captured = CapturedLog()
        var log = UnwritableStateLog(logger: captured.logger)
        func pass(_ problem: String?) {
            var report = PassReport(startedAt: FileTime(secondsSince1970: 0))
            report.stateUnwritable = problem
            log.passFinished(report)
        }
        let full = "state file s.journal: write failed: No space left on device"
        let failing = "state file s.journal: fsync failed: Input/output error"
        let readOnly = "state file s.journal: cannot open for appending: Read-only file system"
        pass(nil)
        for _ in 0..<3 { pass(full) }
        pass(failing)
        pass(nil)
        pass(nil)
        pass(readOnly)
        pass(nil)
        let messages = captured.entries.map(\.message)
        #expect(messages.count == 5, "\(messages)")
        #expect(messages.first?.hasPrefix("state unwritable: \(full); ") == true)
        #expect(messages.dropFirst().first?.hasPrefix("state unwritable: \(failing); ") == true, "a new error is said again")
        #expect(messages.dropFirst(2).first == "state writable again after 4 passes; uploads resume")
        #expect(messages.dropFirst(3).first?.hasPrefix("state unwritable: \(readOnly); ") == true)
        #expect(messages.last == "state writable again after 1 pass; uploads resume")
        #expect(captured.entries.filter { $0.message.hasPrefix("state unwritable") }.allSatisfy { $0.level == .error })
    }

    @Test("Log: a last-pass report that cannot be saved is said once, and once when it is saved again")
    func lastPassOnce() {
        let captured = CapturedLog()
        var log = UnwritableStateLog(logger: captured.logger)
        let error = StateFileError(path: "s.last-pass.json", kind: .unwritable, detail: "write failed: No space left on device")
        log.lastPassSaved()
        for _ in 0..<5 { log.lastPassNotSaved(error) }
        log.lastPassSaved()
        log.lastPassSaved()
        let messages = captured.entries.map(\.message)
        #expect(messages.count == 2, "\(messages)")
        #expect(messages.first?.hasPrefix("cannot save the last pass for `status`: state file s.last-pass.json") == true)
        #expect(messages.last == "the last pass for `status` is saved again")
    }
}
