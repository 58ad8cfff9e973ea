/// One folder listing, held compactly: every name in one byte buffer and every entry a 32-byte
/// record, read as `FolderEntry` values on demand.
///
/// A steady pass over 100,000 events lists about 208,000 files. As `[FolderEntry]` that was 56
/// bytes an entry plus a heap string for every name longer than 15 bytes (every report's): 18 MB,
/// the largest part of a pass's memory after the state. Here it is about 10 MB. The planner and
/// the settle memory read names as bytes (`withName(at:_:)`) and build a `String` only for what
/// they keep.
///
/// Names are kept as the folder gave them, so a name that is not UTF-8 is repaired only when it
/// is read as a `FolderEntry`, exactly as `String(cString:)` repaired it before.
public struct FolderListing: RandomAccessCollection, Sendable {
    /// One entry without its name: the name runs from `nameStart` to the next record's.
    private struct Record {
        var byteCount: Int64
        var modificationTime: Int64
        var file: UInt64
        /// The name's first byte in `names`: its low 32 bits, then the next 8 (a 1 TiB buffer).
        var nameStartLow: UInt32
        /// Into `volumes`; `Self.noIdentity` when the platform gave none.
        var volumeIndex: UInt16
        var nameStartHigh: UInt8
        var kind: UInt8

        var nameStart: Int { Int(nameStartHigh) << 32 | Int(nameStartLow) }
    }

    private static let noIdentity = UInt16.max

    /// The bytes an entry takes besides its name.
    static var recordByteCount: Int { MemoryLayout<Record>.stride }

    private var names: [UInt8] = []
    private var records: [Record] = []
    /// The distinct volumes of the listed files: one in practice, the folder's own, so a record
    /// keeps a two-byte index rather than an eight-byte device number.
    private var volumes: [UInt64] = []

    public init() {}

    /// A listing of `entries`, in their order.
    public init(_ entries: some Sequence<FolderEntry>) {
        for entry in entries { append(entry) }
    }

    /// Reserves room for `entryCount` entries whose names take `nameByteCount` bytes in all, so
    /// that the listing never holds an old and a new buffer while it grows.
    public mutating func reserveCapacity(entryCount: Int, nameByteCount: Int) {
        records.reserveCapacity(entryCount)
        names.reserveCapacity(nameByteCount)
    }

    /// Adds an entry whose name is `nameBytes` (any bytes but NUL; not checked for UTF-8).
    public mutating func append(nameBytes: some Collection<UInt8>, kind: FolderEntry.Kind, byteCount: Int64,
                                modificationTime: FileTime, identity: FileIdentity?) {
        let nameStart = names.count
        names.append(contentsOf: nameBytes)
        records.append(Record(byteCount: byteCount, modificationTime: modificationTime.nanosecondsSince1970,
                              file: identity?.file ?? 0, nameStartLow: UInt32(truncatingIfNeeded: nameStart),
                              volumeIndex: identity.map { volumeIndex(of: $0.volume) } ?? Self.noIdentity,
                              nameStartHigh: UInt8(nameStart >> 32), kind: Self.code(of: kind)))
    }

    public mutating func append(_ entry: FolderEntry) {
        append(nameBytes: entry.name.utf8, kind: entry.kind, byteCount: entry.byteCount,
               modificationTime: entry.modificationTime, identity: entry.identity)
    }

    /// The index of `volume` in `volumes`, added when new. Beyond 65,535 distinct volumes in one
    /// folder (mount points are the only way to get a second) an entry keeps no identity, and
    /// the digest cache relies on its size and time, as on a platform that gives none.
    private mutating func volumeIndex(of volume: UInt64) -> UInt16 {
        if let last = volumes.indices.last, volumes[last] == volume { return UInt16(last) }
        if let index = volumes.firstIndex(of: volume) { return UInt16(index) }
        guard volumes.count < Int(Self.noIdentity) else { return Self.noIdentity }
        volumes.append(volume)
        return UInt16(volumes.count - 1)
    }

    // MARK: Collection

    public var startIndex: Int { 0 }
    public var endIndex: Int { records.count }

    public subscript(position: Int) -> FolderEntry {
        FolderEntry(name: name(at: position), kind: kind(at: position),
                    byteCount: records[position].byteCount, modificationTime: modificationTime(at: position),
                    identity: identity(at: position))
    }

    // MARK: Reading one field

    /// Calls `body` with the name of the entry at `position`, as the folder gave its bytes.
    public func withName<Result>(at position: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        let start = records[position].nameStart
        let end = position + 1 < records.count ? records[position + 1].nameStart : names.count
        return try names.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[start..<end])) }
    }

    /// The name of the entry at `position`, with bytes that are not UTF-8 repaired.
    public func name(at position: Int) -> String {
        withName(at: position) { String(decoding: $0, as: UTF8.self) }
    }

    public func kind(at position: Int) -> FolderEntry.Kind {
        switch records[position].kind {
        case 0: return .regularFile
        case 1: return .directory
        default: return .other
        }
    }

    public func modificationTime(at position: Int) -> FileTime {
        FileTime(nanosecondsSince1970: records[position].modificationTime)
    }

    public func fingerprint(at position: Int) -> FileFingerprint {
        FileFingerprint(byteCount: records[position].byteCount, modificationTime: modificationTime(at: position),
                        identity: identity(at: position))
    }

    private func identity(at position: Int) -> FileIdentity? {
        let record = records[position]
        guard record.volumeIndex != Self.noIdentity else { return nil }
        return FileIdentity(volume: volumes[Int(record.volumeIndex)], file: record.file)
    }

    private static func code(of kind: FolderEntry.Kind) -> UInt8 {
        switch kind {
        case .regularFile: return 0
        case .directory: return 1
        case .other: return 2
        }
    }
}

extension FolderListing: ExpressibleByArrayLiteral {
    public init(arrayLiteral entries: FolderEntry...) { self.init(entries) }
}
