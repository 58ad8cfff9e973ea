import ForwarderCore
import ForwarderIO
import Foundation
import Testing

/// The state on a real, small file system (a tmpfs mounted by the test) that fills up or turns
/// read-only under the real `event-forwarder`, against a loopback server that keeps every file
/// name it receives.
///
/// Waits have generous deadlines so that a stuck forwarder fails the test instead of hanging
/// it; nothing asserts how fast anything happens.
@Suite("Full disk", .serialized, .enabled(if: SmallDisk.unavailableReason == nil, "\(SmallDisk.unavailableReason ?? "")"))
struct FullDiskTests {
    @Test("Disk: `run` on a disk that fills starts no upload, says so once, and resumes by itself when space is freed; every event arrives once")
    func runThroughFullDisk() async throws {
        let disk = try SmallDisk(byteCount: 1 << 20)
        defer { disk.unmount() }
        let server = try await TinyImportServer.start()
        let folder = try TemporaryFolder("full-disk-run")
        let ach = try folder.events(0..<5)
        let forwarder = try RunningForwarder(ach: ach, state: disk.file("state"), server: server, log: folder.file("run.log"))
        defer { forwarder.stop() }
        try await waitUntil("the first five events arrive") { server.binaryCounts.count == 5 }

        try disk.fill()
        try folder.addEvents(5..<65)
        try await waitUntil("the forwarder finds the state unwritable") { forwarder.messages.contains { $0.hasPrefix("state unwritable:") } }
        let receivedWhenFull = server.binaryCounts.values.reduce(0, +)
        let unwritablePasses = forwarder.unwritablePassCount
        try await waitUntil("three more passes") { forwarder.unwritablePassCount >= unwritablePasses + 3 }
        #expect(server.binaryCounts.values.reduce(0, +) == receivedWhenFull, "no upload starts while the state cannot be written")
        #expect(receivedWhenFull < 65, "the disk filled before the backlog was sent")
        let unwritableLines = forwarder.messages.filter { $0.hasPrefix("state unwritable:") }
        #expect(unwritableLines.count == 1, "said once, not every pass: \(unwritableLines)")
        #expect(unwritableLines.first?.contains(disk.file("state")) == true, "\(unwritableLines)")
        #expect(unwritableLines.first?.contains("No space left on device") == true, "\(unwritableLines)")
        let onDisk = try FileStateStore(path: disk.file("state"), readOnly: true).count
        #expect(onDisk <= receivedWhenFull && receivedWhenFull - onDisk <= 4,
                "only the uploads in flight when the write failed wait in memory (\(receivedWhenFull - onDisk))")
        let health = try await httpGet("http://127.0.0.1:\(forwarder.metricsPort)/health")
        #expect(health.status == 503 && health.body.contains("\"state_writable\":false"), "\(health.body)")
        let metrics = try await httpGet("http://127.0.0.1:\(forwarder.metricsPort)/metrics")
        #expect(metricValue(metrics.body, "blastware_forwarder_state_writable") == 0)

        try disk.free()
        try await waitUntil("the forwarder writes its state again") { forwarder.messages.contains { $0.hasPrefix("state writable again after ") } }
        try await waitUntil("every event arrives") { server.binaryCounts.count == 65 }
        #expect(server.binaryCounts.values.allSatisfy { $0 == 1 },
                "nothing sent twice: the acceptances kept in memory were written, not sent again")
        let healthAfter = try await httpGet("http://127.0.0.1:\(forwarder.metricsPort)/health")
        #expect(healthAfter.status == 200, "\(healthAfter.body)")
        #expect(try forwarder.stopAndWait() == 0)
        #expect(try FileStateStore(path: disk.file("state"), readOnly: true).count == 65)
        await server.shutdown()
    }

    @Test("Disk: `once` (and `seed-state`) on a full disk exits 3 naming the state file and the OS error, uploads nothing, and works once space is freed")
    func onceOnFullDisk() async throws {
        let disk = try SmallDisk(byteCount: 256 << 10)
        defer { disk.unmount() }
        let server = try await TinyImportServer.start()
        let folder = try TemporaryFolder("full-disk-once")
        let ach = try folder.events(0..<3)
        try disk.fill()
        let arguments = ["once", "--watch", ach, "--state", disk.file("state"), "--url", "http://127.0.0.1:\(server.port)",
                         "--report-grace-seconds", "0"]
        let full = try await runProcessOffPool(try builtProduct("event-forwarder"), arguments)
        #expect(full.status == 3, "\(full.standardError)")
        #expect(full.standardError.contains("state file \(disk.file("state"))"), "\(full.standardError)")
        #expect(full.standardError.contains("No space left on device"), "\(full.standardError)")
        #expect(server.binaryCounts.isEmpty, "nothing is sent that cannot be recorded")
        let seeding = try await runProcessOffPool(try builtProduct("event-forwarder"),
                                                  ["seed-state", "--watch", ach, "--state", disk.file("state")])
        #expect(seeding.status == 3, "seed-state on a full disk exits 3 too: \(seeding.standardError)")
        #expect(seeding.standardError.contains("No space left on device"), "\(seeding.standardError)")

        try disk.free()
        let freed = try await runProcessOffPool(try builtProduct("event-forwarder"), arguments)
        #expect(freed.status == 0, "\(freed.standardError)")
        #expect(server.binaryCounts.count == 3 && server.binaryCounts.values.allSatisfy { $0 == 1 })
        #expect(try FileStateStore(path: disk.file("state"), readOnly: true).count == 3)
        await server.shutdown()
    }

    @Test("Disk: on a read-only file system `once` exits 3 and `run` waits, uploading nothing, until it is remounted read-write")
    func readOnlyDisk() async throws {
        let disk = try SmallDisk(byteCount: 256 << 10)
        defer { disk.unmount() }
        let server = try await TinyImportServer.start()
        let folder = try TemporaryFolder("read-only-disk")
        let ach = try folder.events(0..<2)
        let arguments = ["once", "--watch", ach, "--state", disk.file("state"), "--url", "http://127.0.0.1:\(server.port)",
                         "--report-grace-seconds", "0"]
        let first = try await runProcessOffPool(try builtProduct("event-forwarder"), arguments)
        #expect(first.status == 0, "\(first.standardError)")

        // A forwarder holding its journal open keeps the kernel from remounting read-only
        // ("mount point is busy"), so the disk turns read-only between runs.
        try disk.remount(readOnly: true)
        try folder.addEvents(2..<5)
        let readOnlyOnce = try await runProcessOffPool(try builtProduct("event-forwarder"), arguments)
        #expect(readOnlyOnce.status == 3, "\(readOnlyOnce.standardError)")
        #expect(readOnlyOnce.standardError.contains("Read-only file system"), "\(readOnlyOnce.standardError)")
        #expect(server.binaryCounts.count == 2)

        let forwarder = try RunningForwarder(ach: ach, state: disk.file("state"), server: server, log: folder.file("run.log"))
        defer { forwarder.stop() }
        try await waitUntil("three passes that cannot write") { forwarder.unwritablePassCount >= 3 }
        #expect(server.binaryCounts.count == 2, "nothing uploaded while read-only")
        #expect(forwarder.messages.filter { $0.hasPrefix("state unwritable:") }.count == 1)
        #expect(forwarder.messages.contains { $0.hasPrefix("state unwritable:") && $0.contains("Read-only file system") })

        try disk.remount(readOnly: false)
        try await waitUntil("every event arrives") { server.binaryCounts.count == 5 }
        #expect(forwarder.messages.contains { $0.hasPrefix("state writable again after ") })
        #expect(server.binaryCounts.values.allSatisfy { $0 == 1 })
        #expect(try forwarder.stopAndWait() == 0)
        #expect(try FileStateStore(path: disk.file("state"), readOnly: true).count == 5)
        await server.shutdown()
    }

    @Test("Disk: the store keeps in memory what a full disk refused, leaves the files loadable, and writes it all once space is freed")
    func storeOnFullDisk() throws {
        let disk = try SmallDisk(byteCount: 256 << 10)
        defer { disk.unmount() }
        let path = disk.file("state")
        let store = try FileStateStore(path: path)
        try store.record(sampleRecord(0))
        try store.sync()
        try disk.fill()
        // The journal's last page still has room for some records; the first that needs a new one fails.
        var firstRefused: Int?
        for index in 1..<200 where firstRefused == nil {
            do { try store.record(sampleRecord(index)) } catch let error as StateFileError {
                #expect(error.kind == .unwritable && error.detail.contains("No space left on device"), "\(error)")
                firstRefused = index
            }
        }
        let refused = try #require(firstRefused, "the disk never filled")
        #expect(throws: StateFileError.self, "later records wait behind the failed one") { try store.record(sampleRecord(200)) }
        #expect(store.count == refused + 2, "every record is kept in memory")
        #expect(store.record(for: sampleRecord(200).digest) != nil)
        #expect(store.writeFailure != nil)
        #expect(throws: StateFileError.self) { try store.sync() }
        let whileFull = try FileStateStore(path: path, readOnly: true)
        #expect(whileFull.count == refused, "what is on the disk loads: the records before the failure, a torn line dropped")

        try disk.free()
        try store.sync()
        #expect(store.writeFailure == nil)
        try store.close()
        let reopened = try FileStateStore(path: path)
        #expect(reopened.count == refused + 2)
        #expect(reopened.loadSummary.tornTailBytes == 0, "the cut-off line was cut away before the rest was written")
    }

    @Test("Disk: a compaction that fails on a full disk leaves the old snapshot and journal valid and no temporary file")
    func compactionOnFullDisk() throws {
        let disk = try SmallDisk(byteCount: 256 << 10)
        defer { disk.unmount() }
        let path = disk.file("state")
        let store = try FileStateStore(path: path, compactionMinimum: 1)
        for index in 0..<4 { try store.record(sampleRecord(index)) }
        try store.sync()
        let snapshot = try Data(contentsOf: URL(fileURLWithPath: path))
        try disk.fill()
        // The journal's page has room for these; the new snapshot needs pages the disk lacks.
        for index in 4..<8 { try store.record(sampleRecord(index)) }
        let error = try #require(throws: StateFileError.self) { try store.sync() }
        #expect(error.path.hasPrefix(path) && error.detail.contains("No space left on device"), "\(error)")
        #expect(!FileManager.default.fileExists(atPath: path + ".tmp"), "the half-written snapshot is removed")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == snapshot, "the old snapshot is untouched")
        #expect(try FileStateStore(path: path, readOnly: true).count == 8, "the journal still holds the new records")

        try disk.free()
        try store.sync()
        try store.close()
        let reopened = try FileStateStore(path: path)
        #expect(reopened.count == 8)
        #expect(reopened.loadSummary.snapshotRecords == 8, "the compaction went through once there was room")
    }
}

/// `event-forwarder run` as a process: quick passes, JSON logs in a file, metrics on a free port.
private final class RunningForwarder: @unchecked Sendable {
    let process = Process()
    let logPath: String
    let metricsPort: Int

    init(ach: String, state: String, server: TinyImportServer, log logPath: String) throws {
        self.logPath = logPath
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = try builtProduct("event-forwarder")
        process.arguments = ["run", "--watch", ach, "--state", state, "--url", "http://127.0.0.1:\(server.port)",
                             "--interval-seconds", "0.2", "--report-grace-seconds", "0",
                             "--metrics-address", "127.0.0.1:0", "--log-format", "json"]
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SFM_") }
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        try process.run()
        var port: Int?
        let deadline = Date().addingTimeInterval(120)
        while port == nil, Date() < deadline, process.isRunning {
            port = Self.records(logPath).lazy.compactMap { ($0["metrics.port"] as? String).flatMap(Int.init) }.first
            if port == nil { Thread.sleep(forTimeInterval: 0.05) }
        }
        guard let port else {
            process.terminate()
            throw SmallDisk.MountError(description: "the forwarder did not start: \(Self.records(logPath))")
        }
        metricsPort = port
    }

    /// Every JSON line of the log so far.
    private static func records(_ logPath: String) -> [[String: Any]] {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
    }

    var messages: [String] { Self.records(logPath).compactMap { $0["message"] as? String } }

    /// Passes whose summary says the state could not be written.
    var unwritablePassCount: Int {
        Self.records(logPath).count { ($0["pass.summary"] as? String)?.contains("state_unwritable") == true }
    }

    /// SIGTERM, then the exit status.
    func stopAndWait() throws -> Int32 {
        process.terminate()
        process.waitUntilExit()
        return process.terminationStatus
    }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }
}

extension TinyImportServer {
    /// How many times each event binary arrived (reports are not counted).
    var binaryCounts: [String: Int] {
        receivedFileNames.filter { !$0.uppercased().hasSuffix(".TXT") }.reduce(into: [:]) { $0[$1, default: 0] += 1 }
    }
}

extension TemporaryFolder {
    /// An `ach` folder holding the event binaries `indices`, settled ten minutes ago; its path.
    func events(_ indices: Range<Int>) throws -> String {
        try FileManager.default.createDirectory(atPath: file("ach"), withIntermediateDirectories: true)
        try addEvents(indices)
        return file("ach")
    }

    func addEvents(_ indices: Range<Int>) throws {
        let now = FileTime(Date())
        for index in indices {
            try write("ach/" + eventName(index), eventBytes(index), ageSeconds: 600 - Double(index) / 100, now: now)
        }
    }
}

/// Polls `condition` every 50 ms; fails the test after two minutes rather than hanging it.
private func waitUntil(_ what: String, _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(120)
    while !condition() {
        guard ContinuousClock.now < deadline else { throw GaveUpWaiting(what: what) }
        try await Task.sleep(for: .milliseconds(50))
    }
}

private struct GaveUpWaiting: Error, CustomStringConvertible {
    var what: String
    var description: String { "gave up waiting for \(what)" }
}
