import ForwarderCore
import ForwarderIO
import ForwarderSimulation
import Foundation
import MockSFMServer
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// What a crash test checks: the state after each kill, the operator's view, the verdict.
extension CrashRun {
    /// Loads the state read-only as `status` does and compares it with the server; a state
    /// that does not load ends the test.
    mutating func checkState(after kill: inout CrashKill) {
        let store: FileStateStore
        do {
            store = try FileStateStore(path: statePath, readOnly: true)
        } catch {
            problems.append("after kill \(kill.number) the state does not load: \(error)")
            stateUnloadable = true
            return
        }
        let records = store.allRecords()
        kill.stateRecords = records.count
        kill.tornJournalBytes = store.loadSummary.tornTailBytes
        if records.count < lastStateRecords {
            problems.append("after kill \(kill.number) the state holds \(records.count) records, "
                + "fewer than the \(lastStateRecords) it held before: a kill lost records")
        }
        lastStateRecords = max(lastStateRecords, records.count)
        let atServer = Set(mock.events().map(\.binaryDigest))
        let unaccepted = records.filter { !atServer.contains($0.digest.hex) }
        if let first = unaccepted.first {
            problems.append("after kill \(kill.number) the state holds \(unaccepted.count) records the server never "
                + "received, e.g. \(first.fileName): recorded before the server accepted")
        }
        let foreign = records.filter { !expectedDigests.contains($0.digest) }
        if let first = foreign.first {
            problems.append("after kill \(kill.number) the state holds \(foreign.count) digests that are not in the folder, "
                + "e.g. \(first.fileName)")
        }
    }

    /// `event-forwarder status --json`, the operator's view, must load the state and count it.
    mutating func checkStatusCommand() async throws {
        guard !stateUnloadable else { return }
        let outputPath = root + "/status.json"
        let process = try ForwarderProcess.start(
            executable: options.forwarderExecutable, arguments: ["status", "--json", "--config", configPath],
            environment: childEnvironment, logPath: outputPath, errorPath: root + "/status.log")
        let status = await process.waitForExit(timeout: .seconds(120))
        guard status == 0 else {
            if status == nil { _ = await process.killAndReap() }
            problems.append("event-forwarder status --json ended with \(status.map { "status \($0)" } ?? "no exit in 120 s"): "
                + Self.logTail(root + "/status.log"))
            return
        }
        guard let reply = try? JSONDecoder().decode(ForwarderStatus.self, from: Data(contentsOf: URL(fileURLWithPath: outputPath))) else {
            problems.append("event-forwarder status --json printed no status: " + Self.logTail(outputPath))
            return
        }
        if let finalStateRecords, reply.recordedEvents != finalStateRecords {
            problems.append("event-forwarder status counts \(reply.recordedEvents) records, the state holds \(finalStateRecords)")
        }
    }

    /// Events lost, reports lost and re-sends, from what the server holds and its journal.
    func verdict(manifest: [ManifestEntry])
        -> (lostEvents: Int, lostReports: Int, duplicates: Int, responsesLostAfterCommit: Int, problems: [String]) {
        let stored = mock.events()
        let byName = Dictionary(stored.map { ($0.binaryName, $0) }, uniquingKeysWith: { first, _ in first })
        // Identical bytes under a second name are uploaded once, under the first name.
        let byDigest = Dictionary(stored.map { ($0.binaryDigest, $0) }, uniquingKeysWith: { first, _ in first })
        var lostEvents: [String] = []
        var lostReports: [String] = []
        for entry in manifest {
            guard let event = byName[entry.binary] ?? byDigest[entry.sha256] else {
                lostEvents.append(entry.binary)
                continue
            }
            if entry.report != nil, event.reportName == nil { lostReports.append(entry.binary) }
        }
        let duplicates = stored.reduce(0) { $0 + max(0, $1.uploadCount - 1) }
        var problems: [String] = []
        if !lostEvents.isEmpty {
            problems.append("\(lostEvents.count) events never reached the server, e.g. \(lostEvents.prefix(3).joined(separator: ", "))")
        }
        if !lostReports.isEmpty {
            problems.append("\(lostReports.count) events are at the server without their report, "
                + "e.g. \(lostReports.prefix(3).joined(separator: ", "))")
        }
        let lostAfterCommit = mock.responsesLostAfterCommit()
        let limit = kills.count * options.uploadConcurrency + lostAfterCommit
        if duplicates > limit {
            problems.append("the server saw \(duplicates) re-sends, more than kills × concurrency + responses lost after "
                + "commit = \(kills.count) × \(options.uploadConcurrency) + \(lostAfterCommit) = \(limit)")
        }
        return (lostEvents.count, lostReports.count, duplicates, lostAfterCommit, problems)
    }

    /// Where the forwarder was when it died: its last JSON log line says.
    static func phase(ofLog path: String) -> CrashPhase {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), text.contains("\"state loaded\"") else {
            return .startup
        }
        let lastMessage = text.split(separator: "\n").reversed().lazy.compactMap { line -> String? in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return object["message"] as? String
        }.first
        return lastMessage == "pass finished" ? .betweenPasses : .pass
    }

    /// The log has a `pass finished` line.
    static func hasFinishedPass(log path: String) -> Bool {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").contains("\"pass finished\"")
    }

    /// Time from `startedAt` to the `state loaded` line of a log, when it has one.
    static func startupDuration(ofLog path: String, startedAt: Date) -> Duration? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.contains("\"state loaded\"") }),
              let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let time = object["time"] as? String else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let loadedAt = formatter.date(from: time) else { return nil }
        return .milliseconds(Int64(max(0, loadedAt.timeIntervalSince(startedAt)) * 1000))
    }

    /// The last lines of a log, for a failure message.
    static func logTail(_ path: String) -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(3).joined(separator: " | ")
    }

    /// Inode, size and modification time of a file, or nil when it does not exist.
    static func fileIdentity(_ path: String) -> [Int64]? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return [Int64(info.st_ino), Int64(info.st_size), Int64(info.st_mtim.tv_sec), Int64(info.st_mtim.tv_nsec)]
    }
}
