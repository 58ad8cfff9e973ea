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

/// The bad-input matrix of issue #7: damaged state, bad settings, files that change mid-pass and
/// odd names, each met with a clear error or a counted skip, and nothing lost.
@Suite("Bad input")
struct BadInputMatrixTests {}

// MARK: - Vocabulary

/// A record for `index`, with a fingerprint, as the forwarder writes them.
func sampleRecord(_ index: Int, hadReport: Bool = true) -> ForwardRecord {
    ForwardRecord(digest: EventDigest(of: eventBytes(index, byteCount: 64)), fileName: eventName(index), byteCount: 64,
                  hadReport: hadReport, forwardedAt: FileTime(nanosecondsSince1970: Int64(index) * 1_000_000_000),
                  fingerprint: FileFingerprint(byteCount: 64, modificationTime: FileTime(nanosecondsSince1970: Int64(index)),
                                               identity: FileIdentity(volume: 1, file: UInt64(index))))
}

/// The state header line and encoded records `indices`, as bytes.
func stateText(header: String = StateRecordCodec.header + "\n", _ indices: Range<Int>) -> [UInt8] {
    Array((header + indices.map { StateRecordCodec.encode(sampleRecord($0)) }.joined()).utf8)
}

/// One encoded record cut after `byteCount` bytes, as a crash mid-append leaves it.
func tornRecord(_ index: Int, after byteCount: Int) -> [UInt8] {
    Array(StateRecordCodec.encode(sampleRecord(index)).utf8.prefix(byteCount))
}

/// A version-1 JSON state with one entry whose fields are `entryJSON`.
func versionOne(key: String = EventDigest(of: eventBytes(1, byteCount: 64)).hex, _ entryJSON: String) -> [UInt8] {
    Array(#"{"version": 1, "forwarded": {"\#(key)": {\#(entryJSON)}}}"#.utf8)
}

/// Every entry in a folder with its bytes (nil for a sub-folder), to prove a refusal changed nothing.
func folderContents(_ path: String) throws -> [String: Data?] {
    var contents: [String: Data?] = [:]
    for name in try FileManager.default.contentsOfDirectory(atPath: path) {
        let filePath = (path as NSString).appendingPathComponent(name)
        var isFolder: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: filePath, isDirectory: &isFolder)
        contents[name] = isFolder.boolValue ? nil : try Data(contentsOf: URL(fileURLWithPath: filePath))
    }
    return contents
}

/// Creates a file, folder or named pipe whose name is `name`'s raw bytes (they need not be
/// UTF-8, which `FileManager` cannot express), modified `ageSeconds` before `now`.
func createEntry(_ name: [UInt8], in folder: String, kind: FolderEntry.Kind = .regularFile,
                         contents: Data = Data(), ageSeconds: Double, now: FileTime) throws {
    let path = (Array(folder.utf8) + [UInt8(ascii: "/")] + name + [0]).map { CChar(bitPattern: $0) }
    switch kind {
    case .directory:
        guard mkdir(path, 0o755) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno)!) }
    case .other:
        guard mkfifo(path, 0o644) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno)!) }
    case .regularFile:
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard descriptor >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno)!) }
        defer { close(descriptor) }
        let written = contents.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == contents.count else { throw POSIXError(.EIO) }
    }
    let modified = now - .nanoseconds(Int64(ageSeconds * 1e9))
    let time = timespec(tv_sec: Int(modified.nanosecondsSince1970 / 1_000_000_000),
                        tv_nsec: Int(modified.nanosecondsSince1970 % 1_000_000_000))
    guard utimensat(AT_FDCWD, path, [time, time], AT_SYMLINK_NOFOLLOW) == 0 else {
        throw POSIXError(POSIXErrorCode(rawValue: errno)!)
    }
}

/// Appends `bytes` to the file at `path`, as Blastware does while it is still writing.
func append(_ bytes: Data, to path: String) throws {
    let handle = try #require(FileHandle(forWritingAtPath: path))
    handle.seekToEndOfFile()
    handle.write(bytes)
    try handle.close()
}

/// Nothing is recorded that the server did not accept: every record's digest is that of bytes
/// in an accepted request, and a record that says its report went names a request that had one.
func expectNothingRecordedUnaccepted(_ store: any ForwardStateStore, accepted: [ImportRequest],
                                             sourceLocation: SourceLocation = #_sourceLocation) {
    for record in store.allRecords() {
        let requests = accepted.filter { EventDigest(of: $0.binary.contents) == record.digest }
        #expect(!requests.isEmpty, "\(record.fileName) is recorded but its bytes were never accepted",
                sourceLocation: sourceLocation)
        if record.hadReport {
            #expect(requests.contains { $0.report != nil }, "\(record.fileName) is recorded with a report that never went",
                    sourceLocation: sourceLocation)
        }
    }
}

/// A local folder that lets a test change files at the worst moments: right after the listing,
/// or just before one file is read; and that can refuse to read chosen names.
final class MidPassFolder: EventFolder, @unchecked Sendable {
    let inner: LocalEventFolder
    private let lock = NSLock()
    private var afterListing: (() throws -> Void)?
    private var beforeReading: [String: () throws -> Void] = [:]
    private var deniedNames: Set<String> = []

    init(path: String) { inner = LocalEventFolder(path: path) }

    var location: String { inner.location }

    /// Runs `change` once, after the next listing.
    func afterNextListing(_ change: @escaping () throws -> Void) { lock.withLock { afterListing = change } }

    /// Runs `change` once, just before `name` is next read.
    func beforeNextRead(of name: String, _ change: @escaping () throws -> Void) {
        lock.withLock { beforeReading[name] = change }
    }

    /// Reads of `names` fail as a file this user may not read would (root reads any mode bits).
    func deny(_ names: Set<String>) { lock.withLock { deniedNames = names } }

    func listEntries() throws -> FolderListing {
        let entries = try inner.listEntries()
        let change = lock.withLock { () -> (() throws -> Void)? in
            defer { afterListing = nil }
            return afterListing
        }
        try change?()
        return entries
    }

    func readContents(of name: String) throws -> Data {
        let (change, denied) = lock.withLock { (beforeReading.removeValue(forKey: name), deniedNames.contains(name)) }
        try change?()
        if denied {
            throw FolderError(kind: .permissionDenied, path: inner.path + "/" + name, detail: "Permission denied")
        }
        return try inner.readContents(of: name)
    }
}

extension ForwarderWorld {
    /// A forwarder over `folder` with a state freshly opened from disk.
    func forwarder(over folder: any EventFolder, compactionMinimum: Int = 10_000) throws -> (EventForwarder, FileStateStore) {
        let store = try FileStateStore(path: statePath, compactionMinimum: compactionMinimum)
        return (EventForwarder(folder: folder, uploader: uploader, store: store, clock: clock, policy: policy,
                               logger: quietLogger), store)
    }

    var achPath: String { folder.file("ach") }

    func achFile(_ name: String) -> String { folder.file("ach/" + name) }
}
