import ForwarderCore
@testable import ForwarderIO
import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The bad-input matrix (issue #7): files that change between listing and reading.
// MARK: - Files mid-pass

/// What becomes of an event binary between the listing and its read.
enum BinarySwap: String, CaseIterable, Sendable {
    case vanishes
    case becomesAFolder
    case becomesANamedPipe

    /// Moves the binary aside and puts the replacement in its place.
    func apply(to name: String, in world: ForwarderWorld) throws {
        try FileManager.default.moveItem(atPath: world.achFile(name), toPath: world.achFile("held-aside"))
        switch self {
        case .vanishes: break
        case .becomesAFolder:
            try createEntry(Array(name.utf8), in: world.achPath, kind: .directory, ageSeconds: 0, now: world.clock.now())
        case .becomesANamedPipe:
            try createEntry(Array(name.utf8), in: world.achPath, kind: .other, ageSeconds: 0, now: world.clock.now())
        }
    }

    /// Removes the replacement and moves the binary back, unchanged.
    func undo(for name: String, in world: ForwarderWorld) throws {
        if self != .vanishes { try FileManager.default.removeItem(atPath: world.achFile(name)) }
        try FileManager.default.moveItem(atPath: world.achFile("held-aside"), toPath: world.achFile(name))
    }
}

/// What becomes of a report between the read of its binary and its own read.
enum ReportChange: String, CaseIterable, Sendable {
    case vanishes
    case grows
    case becomesAFolder
}

extension BadInputMatrixTests {
    @Suite("Files mid-pass")
    struct FilesMidPass {
        @Test("Mid-pass: a binary gone or swapped after listing is skipped as changed, and goes once it is back",
              arguments: BinarySwap.allCases)
        func binarySwapped(_ swap: BinarySwap) async throws {
            let world = try ForwarderWorld()
            try world.event(1, ageSeconds: 1000)
            try world.event(2, ageSeconds: 900)
            let folder = MidPassFolder(path: world.achPath)
            folder.afterNextListing { try swap.apply(to: eventName(1), in: world) }
            // A read blocked on a named pipe is a reader waiting for a writer: a watcher that finds
            // one (a non-blocking open for writing succeeds only then) records it and frees the
            // pass. No time bound: a slow pass without a blocked read is never mistaken for one.
            let pipe = PipeReaderWatch(path: world.achFile(eventName(1)))
            let (forwarder, store) = try world.forwarder(over: folder)
            let first = try await pipe.watching { try await forwarder.runPass() }
            #expect(!pipe.foundABlockedReader, "a pipe must not block the pass")
            #expect(first.skips[.changedWhileReading] == 1)
            #expect(first.skips[.unreadable] == nil)
            #expect(world.uploadedNames == [eventName(2)])

            try swap.undo(for: eventName(1), in: world)
            let second = try await forwarder.runPass()
            #expect(second.forwarded == 1)
            #expect(world.uploadedNames == [eventName(2), eventName(1)])
            #expect(world.uploader.requests.last?.binary.contents == eventBytes(1))
            #expect(world.uploader.requests.last?.report != nil)
            expectNothingRecordedUnaccepted(store, accepted: world.uploader.requests)
        }

        @Test("Mid-pass: a binary replaced after listing by other bytes of the same size is never recorded under the old bytes")
        func replacedSameSizeWithCachedDigest() async throws {
            let serverDown = Mutex(true)
            let world = try ForwarderWorld(answer: { request in
                serverDown.withLock { $0 } ? .failed(UploadProblem(kind: .transport, detail: "reset"))
                    : RecordingUploader.acceptAll(request)
            })
            try world.event(1, ageSeconds: 1000, report: false)
            let folder = MidPassFolder(path: world.achPath)
            let (forwarder, store) = try world.forwarder(over: folder)
            let failed = try await forwarder.runPass()
            #expect(failed.failed == 1, "the forwarder now knows the digest of the first bytes")

            serverDown.withLock { $0 = false }
            world.clock.advance(by: RetryPolicy().baseDelay)
            folder.afterNextListing {
                // The first bytes move to another event name; new bytes of the same size take the old name.
                try FileManager.default.moveItem(atPath: world.achFile(eventName(1)), toPath: world.achFile(eventName(2)))
                try world.write(eventName(1), eventBytes(99), ageSeconds: 800)
            }
            let swapped = try await forwarder.runPass()
            #expect(swapped.skips[.changedWhileReading] == 1)
            #expect(store.count == 0, "nothing recorded from a read that did not match the listing")

            let settled = try await forwarder.runPass()
            #expect(settled.forwarded == 2)
            let accepted = world.uploader.requests.dropFirst()
            #expect(Set(accepted.map(\.binary.contents)) == [eventBytes(1), eventBytes(99)], "both contents reach the server")
            #expect(store.record(for: EventDigest(of: eventBytes(1)))?.fileName == eventName(2))
            #expect(store.record(for: EventDigest(of: eventBytes(99)))?.fileName == eventName(1))
            expectNothingRecordedUnaccepted(store, accepted: Array(accepted))
        }

        @Test("Mid-pass: a binary replaced after listing, before it was ever hashed, is recorded under the bytes sent")
        func replacedSameSizeUnhashed() async throws {
            let world = try ForwarderWorld()
            try world.event(1, ageSeconds: 1000)
            let folder = MidPassFolder(path: world.achPath)
            folder.afterNextListing {
                try world.write(eventName(1) + ".new", eventBytes(99), ageSeconds: 1000)
                try FileManager.default.removeItem(atPath: world.achFile(eventName(1)))
                try FileManager.default.moveItem(atPath: world.achFile(eventName(1) + ".new"), toPath: world.achFile(eventName(1)))
            }
            let (forwarder, store) = try world.forwarder(over: folder)
            _ = try await forwarder.runPass()
            #expect(world.uploader.requests.map(\.binary.contents) == [eventBytes(99)])
            #expect(store.record(for: EventDigest(of: eventBytes(99)))?.fileName == eventName(1))
            let steady = try await forwarder.runPass()
            #expect(steady.skips[.alreadyForwarded] == 1)
            #expect(world.uploader.requests.count == 1)
            expectNothingRecordedUnaccepted(store, accepted: world.uploader.requests)
        }

        @Test("Mid-pass: a binary that grows after listing waits, then goes whole once it settles")
        func binaryGrows() async throws {
            let world = try ForwarderWorld()
            try world.event(1, ageSeconds: 1000)
            let folder = MidPassFolder(path: world.achPath)
            let tail = Data(repeating: 0x5A, count: 100)
            folder.afterNextListing { try append(tail, to: world.achFile(eventName(1))) }
            let (forwarder, store) = try world.forwarder(over: folder)
            let first = try await forwarder.runPass()
            #expect(first.skips[.changedWhileReading] == 1)
            #expect(world.uploader.requests.isEmpty)
            world.clock.advance(by: .seconds(60))
            _ = try await forwarder.runPass()
            #expect(world.uploader.requests.map(\.binary.contents) == [eventBytes(1) + tail])
            expectNothingRecordedUnaccepted(store, accepted: world.uploader.requests)
        }

        @Test("Mid-pass: a binary this user may not read is counted unreadable; the others go, and it goes once readable")
        func permissionDenied() async throws {
            let world = try ForwarderWorld()
            for index in 0..<3 { try world.event(index, ageSeconds: Double(1000 - index)) }
            let folder = MidPassFolder(path: world.achPath)
            folder.deny([eventName(1)])
            let (forwarder, store) = try world.forwarder(over: folder)
            let first = try await forwarder.runPass()
            #expect(first.skips[.unreadable] == 1)
            #expect(world.uploadedNames == [eventName(0), eventName(2)])
            #expect(store.count == 2)

            folder.deny([])
            _ = try await forwarder.runPass()
            #expect(world.uploadedNames == [eventName(0), eventName(2), eventName(1)])
            expectNothingRecordedUnaccepted(store, accepted: world.uploader.requests)
        }

        @Test("Mid-pass: a named pipe or folder named like an event is never opened; the pass goes on",
              arguments: [FolderEntry.Kind.other, .directory])
        func notARegularFile(_ kind: FolderEntry.Kind) async throws {
            let world = try ForwarderWorld()
            try world.event(2, ageSeconds: 900)
            try createEntry(Array(eventName(1).utf8), in: world.achPath, kind: kind, ageSeconds: 1000, now: world.clock.now())
            try createEntry(Array("K123_20240101_120000.bw".utf8), in: world.achPath, kind: kind, ageSeconds: 1000,
                            now: world.clock.now())
            let (forwarder, _) = try world.forwarder(over: LocalEventFolder(path: world.achPath))
            let report = try await forwarder.runPass()
            #expect(report.skips[.notARegularFile] == 2)
            #expect(report.eventBinaries == 1)
            #expect(world.uploadedNames == [eventName(2)])
        }

        @Test("Mid-pass: a report that vanishes, grows or turns into a folder after its binary is read holds the pair back; the whole pair goes later",
              arguments: ReportChange.allCases)
        func reportChanges(_ change: ReportChange) async throws {
            let world = try ForwarderWorld()
            try world.event(1, ageSeconds: 1000)
            let report = achReportName(eventName(1))
            let originalReport = try Data(contentsOf: URL(fileURLWithPath: world.achFile(report)))
            let tail = Data("\"Peak Vector Sum : 0.105 in/s\"\r\n".utf8)
            let folder = MidPassFolder(path: world.achPath)
            folder.beforeNextRead(of: report) {
                switch change {
                case .vanishes:
                    try FileManager.default.moveItem(atPath: world.achFile(report), toPath: world.achFile("held-aside"))
                case .grows:
                    try append(tail, to: world.achFile(report))
                case .becomesAFolder:
                    try FileManager.default.moveItem(atPath: world.achFile(report), toPath: world.achFile("held-aside"))
                    try FileManager.default.createDirectory(atPath: world.achFile(report), withIntermediateDirectories: false)
                }
            }
            let (forwarder, store) = try world.forwarder(over: folder)
            let first = try await forwarder.runPass()
            #expect(first.skips[.changedWhileReading] == 1)
            #expect(world.uploader.requests.isEmpty, "the binary does not go without the report it was listed with")

            if change != .grows {
                if change == .becomesAFolder { try FileManager.default.removeItem(atPath: world.achFile(report)) }
                try FileManager.default.moveItem(atPath: world.achFile("held-aside"), toPath: world.achFile(report))
            } else {
                let waiting = try await forwarder.runPass()
                #expect(waiting.skips[.reportNotQuiescent] == 1)
                world.clock.advance(by: .seconds(60))
            }
            let later = try await forwarder.runPass()
            #expect(later.forwardedWithReport == 1)
            let request = try #require(world.uploader.requests.last)
            #expect(request.binary.contents == eventBytes(1))
            #expect(request.report?.contents == (change == .grows ? originalReport + tail : originalReport))
            #expect(world.uploader.requests.count == 1)
            expectNothingRecordedUnaccepted(store, accepted: world.uploader.requests)
        }
    }
}

/// Watches a path for a reader blocked on it as a named pipe, and frees such a reader.
final class PipeReaderWatch: Sendable {
    let path: String
    private let found = Mutex(false)
    private let done = Mutex(false)

    init(path: String) { self.path = path }

    var foundABlockedReader: Bool { found.withLock { $0 } }

    /// Runs `body` while a thread probes the path every 50 ms until `body` returns.
    func watching<T>(_ body: () async throws -> T) async rethrows -> T {
        let thread = Thread { [self] in
            while !done.withLock({ $0 }) {
                let descriptor = open(path, O_WRONLY | O_NONBLOCK)
                if descriptor >= 0 {
                    var status = stat()
                    if fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFIFO {
                        found.withLock { $0 = true }
                    }
                    close(descriptor)
                }
                usleep(50_000)
            }
        }
        thread.start()
        defer { done.withLock { $0 = true } }
        return try await body()
    }
}
