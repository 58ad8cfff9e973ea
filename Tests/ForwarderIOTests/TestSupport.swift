import ForwarderCore
import ForwarderIO
import Foundation
import Logging
import Synchronization

/// A real folder under the system's temporary directory, removed when the value is released.
final class TemporaryFolder: @unchecked Sendable {
    let path: String

    init(_ label: String = "forwarder-test") throws {
        path = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(label)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    /// Writes `name` with `contents` and a modification time `ageSeconds` before `now`.
    @discardableResult
    func write(_ name: String, _ contents: Data, ageSeconds: Double, now: FileTime) throws -> String {
        let filePath = file(name)
        try contents.write(to: URL(fileURLWithPath: filePath))
        try setAge(name, ageSeconds: ageSeconds, now: now)
        return filePath
    }

    func setAge(_ name: String, ageSeconds: Double, now: FileTime) throws {
        let modified = Date(timeIntervalSince1970: now.secondsSince1970 - ageSeconds)
        try FileManager.default.setAttributes([.modificationDate: modified], ofItemAtPath: file(name))
    }
}

/// A wall clock that moves only when a test moves it, with a monotonic clock that moves with it
/// except when the test steps the wall clock.
final class ManualClock: ForwarderClock {
    private let current: Mutex<(wall: FileTime, monotonic: MonotonicTime)>

    init(_ start: FileTime = FileTime(Date())) { current = Mutex((start, .origin)) }

    func now() -> FileTime { current.withLock { $0.wall } }

    func monotonicNow() -> MonotonicTime { current.withLock { $0.monotonic } }

    func advance(by duration: Duration) {
        current.withLock { $0 = ($0.wall + duration, $0.monotonic + duration) }
    }

    /// Steps the wall clock alone, forward or back, as time sync does.
    func stepWall(by duration: Duration) { current.withLock { $0.wall = $0.wall + duration } }

    func sleep(for duration: Duration) async throws {
        try Task.checkCancellation()
        advance(by: duration)
        await Task.yield()
    }
}

/// An uploader that remembers every request and answers as the test says.
final class RecordingUploader: EventUploader {
    private let state = Mutex<[ImportRequest]>([])
    private let answer: @Sendable (ImportRequest) -> UploadOutcome

    init(answer: @escaping @Sendable (ImportRequest) -> UploadOutcome = RecordingUploader.acceptAll) {
        self.answer = answer
    }

    static let acceptAll: @Sendable (ImportRequest) -> UploadOutcome = { request in
        .accepted(ImportFileResult(filename: request.binary.name, status: "ok", inserted: 1, skipped: 0))
    }

    var requests: [ImportRequest] { state.withLock { $0 } }

    func upload(_ request: ImportRequest) async -> UploadOutcome {
        state.withLock { $0.append(request) }
        return answer(request)
    }
}

/// A folder wrapper that counts content reads, to prove a steady pass reads nothing.
final class CountingFolder: EventFolder {
    let inner: any EventFolder
    private let reads = Mutex<[String]>([])

    init(_ inner: any EventFolder) { self.inner = inner }

    var location: String { inner.location }
    var readNames: [String] { reads.withLock { $0 } }

    func listEntries() throws -> FolderListing { try inner.listEntries() }

    func readContents(of name: String) throws -> Data {
        reads.withLock { $0.append(name) }
        return try inner.readContents(of: name)
    }
}

/// Event-binary-like content, unique per seed value.
func eventBytes(_ seed: Int, byteCount: Int = 3000) -> Data {
    var state = UInt64(truncatingIfNeeded: seed) &* 0x9E37_79B9_7F4A_7C15 | 1
    var bytes = Data(capacity: byteCount)
    bytes.append(contentsOf: [0x10, 0x00, 0x01, 0x80, 0x00, 0x00] + Array("Instantel\0".utf8))
    while bytes.count < byteCount {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        bytes.append(UInt8(truncatingIfNeeded: state))
    }
    return bytes
}

/// A valid event name for index `index` (unit BE12844, one event every 100 s).
func eventName(_ index: Int, kind: BlastwareEventName.Kind = .waveform) -> String {
    BlastwareEventName(serialNumber: 12844, secondsSince1985: 1_270_000_000 + index * 100, kind: kind)!.fileName
}

func achReportName(_ binaryName: String) -> String { EventFileRules.reportNames(forBinary: binaryName)[0] }

let quietLogger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
