/// A reading of a clock that never steps: only the time between two readings means anything.
///
/// The wall clock can be stepped by time sync or by hand, and file modification times follow
/// it; the monotonic clock cannot, so "unchanged for this long" is measured on it.
public struct MonotonicTime: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Nanoseconds since an arbitrary origin fixed when the process (or simulation) started.
    public var nanosecondsSinceOrigin: Int64

    public init(nanosecondsSinceOrigin: Int64) { self.nanosecondsSinceOrigin = nanosecondsSinceOrigin }

    public static let origin = MonotonicTime(nanosecondsSinceOrigin: 0)

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.nanosecondsSinceOrigin < rhs.nanosecondsSinceOrigin }

    public static func + (lhs: Self, rhs: Duration) -> Self {
        Self(nanosecondsSinceOrigin: lhs.nanosecondsSinceOrigin + rhs.wholeNanoseconds)
    }

    /// How long after `rhs` this reading is.
    public static func - (lhs: Self, rhs: Self) -> Duration {
        .nanoseconds(lhs.nanosecondsSinceOrigin - rhs.nanosecondsSinceOrigin)
    }

    public var description: String { "+\((Duration.nanoseconds(nanosecondsSinceOrigin)).secondsValue) s" }
}

/// What decides whether an event binary is inside the age window (`SFM_EVENT_AGE_SOURCE`).
public enum EventAgeSource: String, CaseIterable, Hashable, Sendable {
    /// The binary's modification time: right for a live ACH folder.
    case modificationTime = "mtime"
    /// The event time Blastware encoded in the file name, so a folder restored with fresh
    /// modification times does not send years of old events again.
    case name

    /// The time the age window judges `binary` by.
    ///
    /// With `.name`, the name's unit-local time is read as if it were UTC: units keep no time
    /// zone, and an error of at most a day's offset is small against a window counted in days.
    /// A name whose time cannot be decoded falls back to the modification time, which is what
    /// the forwarder did before this setting existed.
    public func eventTime(of binary: FolderEntry) -> FileTime {
        guard self == .name, let decoded = BlastwareEventName(parsing: binary.name) else {
            return binary.modificationTime
        }
        return Self.unixTime(ofSecondsSince1985: decoded.secondsSince1985)
    }

    /// Seconds from 1970-01-01 to 1985-01-01.
    static let secondsFrom1970To1985: Int64 = Int64(CivilDateTime.daysFrom1970To1985) * 86_400

    static func unixTime(ofSecondsSince1985 seconds: Int) -> FileTime {
        FileTime(secondsSince1970: secondsFrom1970To1985 + Int64(seconds))
    }
}

/// What the forwarder saw of each listed file not yet settled, and since when on the monotonic clock.
///
/// This is the settle memory. A file's quiet time is taken from the wall clock once, when its
/// fingerprint (size, modification time, identity) is first seen, and from then on grows on the
/// monotonic clock; so a wall clock stepped later neither holds a file (a step back, or a file
/// copied from a PC that was ahead) nor settles a file still being written (a step forward).
///
/// A file whose observed quiet time reaches the longest quiet time the planner judges
/// (`ScanPolicy.longestJudgedQuietTime`) stays settled while its fingerprint is unchanged, so
/// it keeps no sighting: only a 64-bit hash of its name and fingerprint, in a table sized to
/// the listing, so that a step of the wall clock cannot make it look recent again. A settled
/// file that changes has a new fingerprint, hence a new hash: it is judged as a file first seen.
public struct SettleObservations: Sendable {
    private struct Sighting {
        var fingerprint: FileFingerprint
        var firstSeen: MonotonicTime
        /// How long the file had been quiet by the wall clock when first seen; never negative.
        var quietAtFirstSight: Duration
    }

    private var sightings: [String: Sighting] = [:]
    /// Hashes of the name and fingerprint of each listed file that settled; a collision (one
    /// in 2⁶² per pair) would only settle a changed file early.
    private var settled = SettledFileTable()
    /// The policy's longest judged quiet time at the last listing: a settled file is at least this quiet.
    private var settledQuietTime = Duration.zero
    /// The clocks at the previous listing, to tell how far the wall clock stepped since.
    private var previousListing: (wall: FileTime, monotonic: MonotonicTime)?

    public init() {}

    /// How many files are remembered with a sighting: those listed and not yet settled.
    public var count: Int { sightings.count }

    /// The settled-table key of the entry at `position`: its name's bytes, as listed, and its fingerprint.
    private static func settledKey(of listing: FolderListing, at position: Int, fingerprint: FileFingerprint) -> UInt64 {
        var hasher = Hasher()
        listing.withName(at: position) { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        hasher.combine(fingerprint)
        return SettledFileTable.key(ofHash: hasher.finalize())
    }

    /// A file first seen ahead of the wall clock: the caller logs it once as clock skew.
    public struct FutureDatedFile: Hashable, Sendable {
        public var name: String
        /// How far the modification time is ahead of the wall clock.
        public var skew: Duration

        public init(name: String, skew: Duration) {
            self.name = name
            self.skew = skew
        }
    }

    /// Records one listing taken at `wallNow` and `monotonicNow`, forgetting names no longer
    /// listed and files settled by both clocks for `policy`'s longest judged quiet time.
    ///
    /// A fingerprint first seen after the wall clock stepped forward since the previous listing
    /// gets no credit for the step: its modification time may predate the step, which would
    /// make a file written a moment ago look long settled. Returns the regular files whose
    /// modification time is ahead of the wall clock and whose fingerprint is new, so each is
    /// reported once (again only if it changes).
    public mutating func observe(_ listing: FolderListing, wallNow: FileTime, monotonicNow: MonotonicTime,
                                 policy: ScanPolicy) -> [FutureDatedFile] {
        var forwardStep = Duration.zero
        if let previousListing {
            forwardStep = max(.zero, (wallNow - previousListing.wall) - (monotonicNow - previousListing.monotonic))
        }
        previousListing = (wallNow, monotonicNow)
        let settledQuietTime = policy.longestJudgedQuietTime
        self.settledQuietTime = settledQuietTime
        settled.reserve(keyCount: listing.count)
        // Only files not yet settled keep a sighting, so this stays small however large the folder.
        var next: [String: Sighting] = [:]
        var futureDated: [FutureDatedFile] = []
        for position in listing.indices where listing.kind(at: position) == .regularFile {
            let fingerprint = listing.fingerprint(at: position)
            let key = Self.settledKey(of: listing, at: position, fingerprint: fingerprint)
            if settled.mark(key) { continue }
            let wallQuietTime = wallNow - fingerprint.modificationTime
            let known = sightings.isEmpty ? nil : sightings[listing.name(at: position)]
            if let known, known.fingerprint == fingerprint {
                if known.quietAtFirstSight + (monotonicNow - known.firstSeen) < settledQuietTime {
                    next[listing.name(at: position)] = known
                } else {
                    settled.insertMarked(key)
                }
                continue
            }
            let quietAtFirstSight = max(.zero, wallQuietTime - forwardStep)
            if quietAtFirstSight < settledQuietTime {
                next[listing.name(at: position)] = Sighting(fingerprint: fingerprint, firstSeen: monotonicNow,
                                                            quietAtFirstSight: quietAtFirstSight)
            } else {
                settled.insertMarked(key)
            }
            if wallQuietTime < .zero {
                futureDated.append(FutureDatedFile(name: listing.name(at: position), skew: .zero - wallQuietTime))
            }
        }
        settled.removeUnmarked()
        sightings = next
        return futureDated
    }

    /// How long the entry at `position` of `listing` has been quiet: its wall-clock quiet time at
    /// first sight plus the time it has been seen unchanged since; for a settled file, the
    /// longest judged quiet time (it is at least that quiet, and no verdict needs more); nil
    /// when this fingerprint was not observed.
    public func quietTime(of listing: FolderListing, at position: Int, monotonicNow: MonotonicTime) -> Duration? {
        let fingerprint = listing.fingerprint(at: position)
        if !settled.isEmpty, settled.contains(Self.settledKey(of: listing, at: position, fingerprint: fingerprint)) {
            return settledQuietTime
        }
        guard !sightings.isEmpty, let known = sightings[listing.name(at: position)], known.fingerprint == fingerprint else {
            return nil
        }
        return known.quietAtFirstSight + (monotonicNow - known.firstSeen)
    }
}

/// When a file counts as no longer being written.
public enum SettleRule {
    /// How long the entry at `position` of `listing` has been quiet, by the settle memory when it
    /// observed this fingerprint, else by the wall clock alone (now minus modification time).
    ///
    /// Without steps of the wall clock both agree. A file is settled when its quiet time
    /// reaches the quiescence period, and the report grace period is counted on the same quiet
    /// time, so a file dated in the future is held for the quiescence period (or the grace
    /// period) plus at most one pass interval, not until the wall clock reaches its date.
    public static func quietTime(of listing: FolderListing, at position: Int, wallNow: FileTime,
                                 monotonicNow: MonotonicTime, observations: SettleObservations) -> Duration {
        observations.quietTime(of: listing, at: position, monotonicNow: monotonicNow)
            ?? (wallNow - listing.modificationTime(at: position))
    }
}
