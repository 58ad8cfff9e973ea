import ForwarderCore
import Foundation
import Testing

/// The real state file store, observed from outside through `strace`: what it syncs, and what a
/// power cut would leave of it.
///
/// The simulated store models a lost unsynced tail; these tests prove that the file store gives
/// the guarantees that model assumes. They need `strace` (CI installs it) and are reported as not
/// run where it is missing.
@Suite("Durability of the state file", .enabled(if: SyscallTrace.stracePath != nil, "needs strace (apt-get install strace)"))
struct DurabilityTests {
    @Test("Durability: `once` leaves no journal byte unsynced at exit, and syncs the folder of a new journal")
    func onceSyncsItsJournal() async throws {
        let server = try await TinyImportServer.start()
        defer { Task { await server.shutdown() } }
        let folder = try DurabilityFolder()
        try folder.addEvents(0..<12)

        let run = try await folder.tracedOnce(server: server, label: "once")
        #expect(run.result.status == 0, "\(run.result.standardError)")
        let journal = folder.journalPath
        let journalLength = try folder.length(of: journal)
        #expect(journalLength > 0)
        #expect(run.trace.syncedLength(of: journal) == journalLength,
                "the journal is \(journalLength) bytes but was last synced at \(String(describing: run.trace.syncedLength(of: journal)))")
        #expect(folder.acceptedNames(inJournalPrefix: journalLength).count == 12)
        let firstWrite = run.trace.calls.firstIndex { if case .wrote(journal, _) = $0 { true } else { false } }
        let folderSync = run.trace.calls.lastIndex(of: .synced(path: folder.stateFolder))
        #expect(firstWrite != nil && folderSync != nil && folderSync! > firstWrite!,
                "a new journal's folder must be synced so the file itself survives a power cut")
    }

    @Test("Durability: a snapshot replaces the old file only once synced, and its folder is synced after the rename")
    func snapshotsAreSyncedBeforeAndAfterTheRename() async throws {
        let server = try await TinyImportServer.start()
        defer { Task { await server.shutdown() } }
        let folder = try DurabilityFolder()
        // A Python version-1 state is rewritten as a snapshot (and its backup) when first opened.
        let digests = (0..<3).map { String(repeating: String($0), count: 64) }
        let entries = digests.enumerated().map { index, digest in
            "\"\(digest)\": {\"filename\": \"\(eventName(100 + index))\", \"size\": 3000, \"forwarded_at\": \"2026-05-08T10:11:12Z\"}"
        }
        try Data("{\"version\": 1, \"forwarded\": {\(entries.joined(separator: ", "))}}".utf8)
            .write(to: URL(fileURLWithPath: folder.statePath))

        let run = try await folder.tracedOnce(server: server, label: "import")
        #expect(run.result.status == 0, "\(run.result.standardError)")
        let renames = run.trace.calls.compactMap { call -> String? in
            if case .renamed(_, let to) = call { to } else { nil }
        }
        #expect(renames.contains(folder.statePath), "the import did not replace the state: \(renames)")
        #expect(run.trace.unsyncedReplacements().isEmpty, "\(run.trace.unsyncedReplacements())")
    }

    @Test("Durability: after a SIGKILL and a power cut that drops the unsynced journal tail, the restart re-sends exactly what was lost")
    func powerCutLosesOnlyTheUnsyncedTail() async throws {
        let server = try await TinyImportServer.start()
        defer { Task { await server.shutdown() } }
        let folder = try DurabilityFolder()
        try folder.addEvents(0..<20)
        let first = try await folder.tracedOnce(server: server, label: "first")
        #expect(first.result.status == 0, "\(first.result.standardError)")
        let firstNames = Set((0..<20).map { eventName($0) })

        // Twenty more; the server answers eight of them, then hangs, and the forwarder is killed
        // with uploads recorded in its journal but not yet synced.
        try folder.addEvents(20..<40)
        let requestsSoFar = server.receivedFileNames.count / 2
        server.hold(afterRequests: requestsSoFar + 8)
        let killed = try await folder.tracedOnceKilled(server: server, label: "killed") {
            server.receivedFileNames.count / 2 > requestsSoFar + 8
        }
        let everyName = Set((0..<40).map { eventName($0) })
        let acceptedBeforeKill = Set(server.receivedFileNames.dropFirst(requestsSoFar * 2).prefix(16))
            .intersection(everyName)
        #expect(acceptedBeforeKill.count == 8)

        // The power cut: every file keeps only what was synced.
        let trace = SyscallTrace(calls: first.trace.calls + killed.calls)
        let journalLength = try folder.length(of: folder.journalPath)
        let syncedLength = try #require(trace.syncedLength(of: folder.journalPath))
        #expect(syncedLength <= journalLength)
        let recordedBeforeCut = folder.acceptedNames(inJournalPrefix: journalLength)
        #expect(recordedBeforeCut.isSuperset(of: acceptedBeforeKill), "the killed run wrote its records before it was killed")
        try folder.truncate(folder.journalPath, to: syncedLength)
        let survived = folder.acceptedNames(inJournalPrefix: syncedLength)
        #expect(survived.isSuperset(of: firstNames), "the first run's records were synced before it exited")

        server.release()
        let namesBeforeRestart = server.receivedFileNames.count
        let restart = try await runProcessOffPool(try builtProduct("event-forwarder"), folder.onceArguments(server: server))
        #expect(restart.status == 0, "\(restart.standardError)")
        let resent = Set(server.receivedFileNames.dropFirst(namesBeforeRestart)).intersection(everyName)
        #expect(resent == everyName.subtracting(survived), "the restart must send exactly what the cut lost")
        #expect(resent.isSuperset(of: acceptedBeforeKill.subtracting(survived)))
        #expect(resent.isDisjoint(with: firstNames))
    }
}

/// A watched folder, a state folder and the traced runs of `event-forwarder once` over them.
private final class DurabilityFolder: Sendable {
    let root: TemporaryFolder
    let now = FileTime(Date())
    let stateFolder: String
    var statePath: String { (stateFolder as NSString).appendingPathComponent("state") }
    var journalPath: String { statePath + ".journal" }
    var watchPath: String { root.file("ach") }

    init() throws {
        root = try TemporaryFolder("durability")
        // strace prints resolved paths; compare with the same.
        let resolved = URL(fileURLWithPath: root.path).resolvingSymlinksInPath().path
        stateFolder = (resolved as NSString).appendingPathComponent("state-folder")
        try FileManager.default.createDirectory(atPath: stateFolder, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: watchPath, withIntermediateDirectories: true)
    }

    func addEvents(_ indexes: Range<Int>) throws {
        for index in indexes {
            let name = eventName(index)
            try root.write("ach/" + name, eventBytes(index), ageSeconds: 600, now: now)
            try root.write("ach/" + achReportName(name), Data("\"Serial Number : BE12844\"\n".utf8), ageSeconds: 600, now: now)
        }
    }

    func onceArguments(server: TinyImportServer) -> [String] {
        ["once", "--watch", watchPath, "--state", statePath, "--url", "http://127.0.0.1:\(server.port)"]
    }

    /// `event-forwarder once` under strace, to its end, with one upload in flight at a time.
    func tracedOnce(server: TinyImportServer, label: String) async throws -> (result: ProcessResult, trace: SyscallTrace) {
        let log = root.file("strace-\(label).log")
        let result = try await runProcessOffPool(URL(fileURLWithPath: SyscallTrace.stracePath!),
                                                 SyscallTrace.straceArguments(output: log)
                                                     + [try builtProduct("event-forwarder").path] + onceArguments(server: server),
                                                 environment: ["SFM_UPLOAD_CONCURRENCY": "1"])
        return (result, SyscallTrace(log: try String(contentsOfFile: log, encoding: .utf8)))
    }

    /// `event-forwarder once` under strace, killed with SIGKILL as soon as `shouldKill` holds.
    func tracedOnceKilled(server: TinyImportServer, label: String,
                          when shouldKill: @escaping @Sendable () -> Bool) async throws -> SyscallTrace {
        let log = root.file("strace-\(label).log")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: SyscallTrace.stracePath!)
        process.arguments = SyscallTrace.straceArguments(output: log) + [try builtProduct("event-forwarder").path]
            + onceArguments(server: server)
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SFM_") }
        environment["SFM_UPLOAD_CONCURRENCY"] = "1"
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        var waited = 0
        while !shouldKill() {
            try #require(process.isRunning, "the forwarder ended before it could be killed")
            try #require(waited < 120_000, "the server never saw the upload to hold")
            try await Task.sleep(for: .milliseconds(20))
            waited += 20
        }
        let children = try String(contentsOfFile: "/proc/\(process.processIdentifier)/task/\(process.processIdentifier)/children",
                                  encoding: .utf8)
        let forwarder = try #require(children.split(separator: " ").first.flatMap { Int32($0) }, "strace has no child")
        kill(forwarder, SIGKILL)
        await Self.waitForExit(of: process)
        return SyscallTrace(log: try String(contentsOfFile: log, encoding: .utf8))
    }

    /// Waits for a child on a thread of its own, off the pool the loopback server needs.
    private static func waitForExit(of process: Process) async {
        await withCheckedContinuation { continuation in
            Thread {
                process.waitUntilExit()
                continuation.resume()
            }.start()
        }
    }

    func length(of path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
    }

    func truncate(_ path: String, to length: Int) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: UInt64(length))
        try handle.close()
    }

    /// Names of the binaries whose `accepted` lines (a 64-hex digest first, the name last) lie
    /// whole within the first `length` bytes of the journal.
    func acceptedNames(inJournalPrefix length: Int) -> Set<String> {
        guard let contents = FileManager.default.contents(atPath: journalPath) else { return [] }
        let prefix = contents.prefix(length)
        var names: Set<String> = []
        for line in String(decoding: prefix, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            let fields = line.split(separator: "\t")
            guard let digest = fields.first, digest.count == 64, digest.allSatisfy(\.isHexDigit), let name = fields.last else { continue }
            names.insert(String(name))
        }
        return names
    }
}

extension SyscallTrace {
    init(calls: [Call]) { self.calls = calls }
}
