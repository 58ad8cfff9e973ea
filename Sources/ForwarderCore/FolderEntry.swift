import Crypto
import Foundation

/// A file time with nanosecond resolution, counted from the Unix epoch.
///
/// Kept as an integer so that an unchanged file compares equal to itself exactly, which the
/// digest cache relies on; `Date`'s floating point would make that comparison fragile.
public struct FileTime: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanosecondsSince1970: Int64

    public init(nanosecondsSince1970: Int64) { self.nanosecondsSince1970 = nanosecondsSince1970 }

    public init(secondsSince1970: Int64, nanoseconds: Int64 = 0) {
        self.nanosecondsSince1970 = secondsSince1970 * 1_000_000_000 + nanoseconds
    }

    /// Converts a `Date`, rounded to the microsecond: a `Date` near today holds no finer digits,
    /// and rounding keeps `.345` from printing as `.344`.
    public init(_ date: Date) {
        self.nanosecondsSince1970 = Int64((date.timeIntervalSince1970 * 1e6).rounded()) * 1000
    }

    public var date: Date { Date(timeIntervalSince1970: Double(nanosecondsSince1970) / 1e9) }

    public var secondsSince1970: Double { Double(nanosecondsSince1970) / 1e9 }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.nanosecondsSince1970 < rhs.nanosecondsSince1970 }

    public static func + (lhs: Self, rhs: Duration) -> Self {
        Self(nanosecondsSince1970: lhs.nanosecondsSince1970 + rhs.wholeNanoseconds)
    }

    public static func - (lhs: Self, rhs: Duration) -> Self {
        Self(nanosecondsSince1970: lhs.nanosecondsSince1970 - rhs.wholeNanoseconds)
    }

    /// How long after `earlier` this time is (negative when it is before).
    public static func - (lhs: Self, rhs: Self) -> Duration {
        .nanoseconds(lhs.nanosecondsSince1970 - rhs.nanosecondsSince1970)
    }

    /// RFC 3339 in UTC with millisecond precision, e.g. `2026-05-08T10:11:12.345Z`.
    public var description: String {
        let seconds = nanosecondsSince1970.floorDividedInt64(by: 1_000_000_000)
        // From the remainder, not `seconds * 1e9`: that overflows for times before 1677-09-21.
        let remainder = nanosecondsSince1970 % 1_000_000_000
        let milliseconds = (remainder < 0 ? remainder + 1_000_000_000 : remainder) / 1_000_000
        let days = Int(seconds.floorDividedInt64(by: 86_400))
        let secondOfDay = Int(seconds - Int64(days) * 86_400)
        let (year, month, day) = CivilDateTime.civilDate(daysSinceEpoch: days)
        let time = CivilDateTime(year: year, month: month, day: day, hour: secondOfDay / 3600,
                                 minute: secondOfDay % 3600 / 60, second: secondOfDay % 60)
        let fraction = String(milliseconds + 1000).dropFirst()
        return "\(time).\(fraction)Z"
    }
}

extension Int64 {
    func floorDividedInt64(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}

extension Duration {
    /// The duration in whole nanoseconds, saturating far beyond any file-time range.
    public var wholeNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    /// The duration in seconds as a floating-point number, for display.
    public var secondsValue: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

/// What identifies a file on its volume (device and inode on POSIX, volume and file index on
/// Windows), so that a file replaced under the same name is not mistaken for the old one.
public struct FileIdentity: Hashable, Sendable, CustomStringConvertible {
    public var volume: UInt64
    public var file: UInt64

    public init(volume: UInt64, file: UInt64) {
        self.volume = volume
        self.file = file
    }

    public var description: String { "\(volume):\(file)" }
}

/// One entry of a folder listing: everything the planner needs, from one stat.
public struct FolderEntry: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case regularFile
        case directory
        /// Symbolic links, devices, sockets: never read.
        case other
    }

    // The one-byte `kind` last: declared after the name it would pad every entry of a listing
    // from 56 bytes to 64.
    public var name: String
    public var byteCount: Int64
    public var modificationTime: FileTime
    /// Nil where the platform cannot tell; the digest cache then relies on size and time.
    public var identity: FileIdentity?
    public var kind: Kind

    public init(name: String, kind: Kind = .regularFile, byteCount: Int64, modificationTime: FileTime,
                identity: FileIdentity? = nil) {
        self.name = name
        self.kind = kind
        self.byteCount = byteCount
        self.modificationTime = modificationTime
        self.identity = identity
    }

    /// What must stay the same for a cached digest of this file to remain valid.
    public var fingerprint: FileFingerprint {
        FileFingerprint(byteCount: byteCount, modificationTime: modificationTime, identity: identity)
    }
}

/// Size, modification time and identity: if none changed, the content is taken as unchanged.
public struct FileFingerprint: Hashable, Sendable {
    public var byteCount: Int64
    public var modificationTime: FileTime
    public var identity: FileIdentity?

    public init(byteCount: Int64, modificationTime: FileTime, identity: FileIdentity?) {
        self.byteCount = byteCount
        self.modificationTime = modificationTime
        self.identity = identity
    }
}

/// The SHA-256 of an event binary's exact bytes: the key of the forwarding state.
///
/// Held as four words rather than hex text: a million-entry state then costs 32 bytes a key,
/// and hashing and comparing keys needs no string work.
public struct EventDigest: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let words: (UInt64, UInt64, UInt64, UInt64)

    /// Accepts 64 hexadecimal characters in either case; nil otherwise.
    public init?(hex: some StringProtocol) {
        var utf8 = ContiguousArray(hex.utf8)
        guard utf8.count == 64 else { return nil }
        guard let digest = utf8.withUnsafeMutableBufferPointer({ Self(hexBytes: UnsafeBufferPointer($0)) }) else {
            return nil
        }
        self = digest
    }

    /// Parses 64 hexadecimal bytes; nil when the count or a character is wrong.
    public init?(hexBytes: UnsafeBufferPointer<UInt8>) {
        guard hexBytes.count == 64 else { return nil }
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        // One table lookup per character and one check per digest: loading a million records
        // parses 64 million characters.
        let invalid = Self.nibbles.withUnsafeBufferPointer { nibbles -> UInt8 in
            var invalid: UInt8 = 0
            withUnsafeMutableBytes(of: &words) { raw in
                for wordIndex in 0..<4 {
                    var value: UInt64 = 0
                    for index in (wordIndex * 16)..<(wordIndex * 16 + 16) {
                        let nibble = nibbles[Int(hexBytes[index])]
                        invalid |= nibble
                        value = value << 4 | UInt64(nibble & 0x0F)
                    }
                    raw.storeBytes(of: value, toByteOffset: wordIndex * 8, as: UInt64.self)
                }
            }
            return invalid
        }
        guard invalid & 0x80 == 0 else { return nil }
        self.words = words
    }

    /// The value of each hexadecimal character, 0x80 for every other byte.
    private static let nibbles: [UInt8] = (0...255).map { byte -> UInt8 in
        switch UInt8(byte) {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt8(byte) - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt8(byte) - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt8(byte) - UInt8(ascii: "A") + 10
        default: return 0x80
        }
    }

    /// The digest of `bytes`.
    public init(of bytes: some DataProtocol) {
        self.init(SHA256.hash(data: bytes))
    }

    public init(_ digest: SHA256.Digest) {
        var words: [UInt64] = [0, 0, 0, 0]
        for (index, byte) in digest.enumerated() {
            words[index / 8] = words[index / 8] << 8 | UInt64(byte)
        }
        self.words = (words[0], words[1], words[2], words[3])
    }

    /// Lower-case hexadecimal, 64 characters.
    public var hex: String {
        let table = Array("0123456789abcdef".utf8)
        var characters = [UInt8]()
        characters.reserveCapacity(64)
        for word in [words.0, words.1, words.2, words.3] {
            for shift in stride(from: 60, through: 0, by: -4) {
                characters.append(table[Int((word >> UInt64(shift)) & 0xF)])
            }
        }
        return String(decoding: characters, as: UTF8.self)
    }

    public var description: String { hex }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.words == rhs.words }

    /// Hashes the first word only: the words of a SHA-256 are already uniformly spread, and a
    /// million-record state spends much of its load time in the hasher.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        [lhs.words.0, lhs.words.1, lhs.words.2, lhs.words.3]
            .lexicographicallyPrecedes([rhs.words.0, rhs.words.1, rhs.words.2, rhs.words.3])
    }
}
