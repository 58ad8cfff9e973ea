import ForwarderCore
import ForwarderIO
import Foundation
import Testing

@Suite("Local event folder")
struct LocalEventFolderTests {
    @Test("Folder: one listing gives kind, size, mtime and identity; links and folders are not regular files")
    func listing() throws {
        let folder = try TemporaryFolder("listing")
        let now = FileTime(secondsSince1970: 1_800_000_000, nanoseconds: 0)
        try folder.write(eventName(1), eventBytes(1, byteCount: 1234), ageSeconds: 10, now: now)
        try FileManager.default.createDirectory(atPath: folder.file(eventName(2)), withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(atPath: folder.file(eventName(3)), withDestinationPath: "/etc/hostname")
        let entries = Dictionary(uniqueKeysWithValues: try LocalEventFolder(path: folder.path).listEntries().map { ($0.name, $0) })
        #expect(entries.count == 3)
        let binary = try #require(entries[eventName(1)])
        #expect(binary.kind == .regularFile)
        #expect(binary.byteCount == 1234)
        #expect(binary.modificationTime == now - .seconds(10))
        #expect(binary.identity != nil)
        #expect(entries[eventName(2)]?.kind == .directory)
        #expect(entries[eventName(3)]?.kind == .other)
    }

    @Test("Folder: the portable listing agrees with the readdir listing")
    func portableListingAgrees() throws {
        let folder = try TemporaryFolder("portable")
        let now = FileTime(Date())
        for index in 0..<20 { try folder.write(eventName(index), eventBytes(index, byteCount: 100 + index), ageSeconds: Double(index), now: now) }
        let local = LocalEventFolder(path: folder.path)
        let fast = try local.listEntries().sorted { $0.name < $1.name }
        let portable = try local.listWithFileManager().sorted { $0.name < $1.name }
        #expect(fast.map(\.name) == portable.map(\.name))
        #expect(fast.map(\.byteCount) == portable.map(\.byteCount))
        for (lhs, rhs) in zip(fast, portable) {
            #expect(abs((lhs.modificationTime - rhs.modificationTime).secondsValue) < 0.001)
        }
    }

    @Test("Folder: links are never followed out of the folder, and names with paths are refused")
    func linksRefused() throws {
        let folder = try TemporaryFolder("links")
        try FileManager.default.createSymbolicLink(atPath: folder.file(eventName(3)), withDestinationPath: "/etc/hostname")
        let local = LocalEventFolder(path: folder.path)
        #expect(throws: FolderError.self) { try local.readContents(of: eventName(3)) }
        #expect(throws: FolderError.self) { try local.readContents(of: "../etc/hostname") }
    }

    @Test("Folder: a missing folder is an error that says so")
    func missingFolder() throws {
        let folder = try TemporaryFolder("missing")
        #expect {
            try LocalEventFolder(path: folder.file("nope")).listEntries()
        } throws: { error in
            (error as? FolderError)?.kind == .folderMissing
        }
    }

    @Test("Folder: names with spaces, Unicode and odd case are listed as they are and are not events")
    func oddNames() throws {
        let folder = try TemporaryFolder("odd")
        let now = FileTime(Date())
        for name in ["with space.N00", "Ünïcode.TXT", "n844l20g.630h"] {
            try folder.write(name, Data([1, 2]), ageSeconds: 100, now: now)
        }
        let names = Set(try LocalEventFolder(path: folder.path).listEntries().map(\.name))
        #expect(names == ["with space.N00", "Ünïcode.TXT", "n844l20g.630h"])
        #expect(names.filter { EventFileRules.isEventBinary($0) } == ["n844l20g.630h"])
        #expect(try LocalEventFolder(path: folder.path).readContents(of: "n844l20g.630h") == Data([1, 2]))
    }
}

@Suite("Run loop")
struct RunLoopTests {
    @Test("Shutdown: SIGTERM during `run` finishes, syncs the state and exits 0")
    func sigterm() async throws {
        let folder = try TemporaryFolder("sigterm")
        let server = try await TinyImportServer.start()
        try FileManager.default.createDirectory(atPath: folder.file("ach"), withIntermediateDirectories: true)
        try folder.write("ach/" + eventName(1), eventBytes(1), ageSeconds: 600, now: FileTime(Date()))
        let process = Process()
        process.executableURL = try builtProduct("event-forwarder")
        process.arguments = ["run", "--watch", folder.file("ach"), "--state", folder.file("state"),
                             "--url", "http://127.0.0.1:\(server.port)", "--interval-seconds", "3600"]
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while server.receivedFileNames.isEmpty, Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
        while !FileManager.default.fileExists(atPath: folder.file("state.last-pass.json")), Date() < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        process.terminate()
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
        #expect(server.receivedFileNames == [eventName(1)])
        let journal = try String(contentsOfFile: folder.file("state.journal"), encoding: .utf8)
        #expect(journal.contains(eventName(1)))
        await server.shutdown()
    }

    @Test("Run loop: passes repeat every interval on the given clock until stopped")
    func loopOnClock() async throws {
        let world = try ForwarderWorld()
        try world.event(1, ageSeconds: 30, report: false)
        let forwarder = try world.restartedForwarder()
        let stop = StopSignal()
        let passes = PassCounter()
        try await ForwarderService.runLoop(forwarder: forwarder, clock: world.clock, interval: .seconds(60), stop: stop,
                                           logger: quietLogger) { report in
            if passes.add(report) == 3 { stop.request() }
        }
        #expect(passes.reports.count == 3)
        #expect(passes.reports[0].skips[.awaitingReport] == 1, "first pass: inside the grace period")
        #expect(passes.reports[1].forwarded == 1, "second pass, 60 s later: sent alone \(passes.reports.map(\.summary))")
        #expect(passes.reports[2].forwarded == 0)
    }
}

final class PassCounter: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var reports: [PassReport] = []

    func add(_ report: PassReport) -> Int {
        lock.withLock {
            reports.append(report)
            return reports.count
        }
    }
}
