import ForwarderCore

/// How an event's ASCII report is named in the folder (domain.md §1, §5).
public enum ReportNaming: String, Sendable, Hashable, Codable, CaseIterable {
    /// Auto Call Home's `<stem>_<ext>_ASCII.TXT`.
    case ach
    /// Only an operator's manual export, `<binary>.TXT`.
    case binaryTxt
    /// The ACH report first, then a manual export of the same event.
    case both
    /// No report is ever written.
    case none
}

/// What the caller asks for: the seed, the profile, how much and from when.
///
/// The start time is a parameter, never read from a clock inside the generator, so the same
/// options always give the same folder.
public struct FolderGenerationOptions: Sendable, Hashable {
    public var seed: UInt64
    public var profile: FolderProfile
    /// Units in the folder; the profile's default when nil.
    public var unitCount: Int?
    /// Simulated days; derived from `eventCount` or the profile's default when nil.
    public var dayCount: Int?
    /// Exactly this many events (the earliest by download time), when set.
    public var eventCount: Int?
    /// Scales the profile's waveform rates so that a unit records about this many events a day
    /// (idle units stay idle, histograms stay one per call-in); the profile's own rates when nil.
    public var eventsPerUnitPerDay: Double?
    /// The PC's wall-clock time at which the simulated period begins.
    public var startTime: FileTime
    /// Offset of the site's (and the units') local time from the PC's file-time epoch.
    public var siteUTCOffset: Duration
    /// The serial numbers units are drawn from (1000–24999 when nil); a fleet gives each PC a
    /// range of its own so that no two PCs download events of one unit.
    public var serialNumbers: ClosedRange<Int>?

    /// How much the profile's waveform rates are multiplied by to meet `eventsPerUnitPerDay`.
    var eventRateScale: Double {
        let expected = profile.expectedEventsPerUnitPerDay
        guard let eventsPerUnitPerDay, expected > 0 else { return 1 }
        return max(0, eventsPerUnitPerDay / expected)
    }

    public init(seed: UInt64, profile: FolderProfile = .mixed, unitCount: Int? = nil, dayCount: Int? = nil,
                eventCount: Int? = nil, eventsPerUnitPerDay: Double? = nil, startTime: FileTime,
                siteUTCOffset: Duration = .zero, serialNumbers: ClosedRange<Int>? = nil) {
        self.serialNumbers = serialNumbers
        self.seed = seed
        self.profile = profile
        self.unitCount = unitCount
        self.dayCount = dayCount
        self.eventCount = eventCount
        self.eventsPerUnitPerDay = eventsPerUnitPerDay
        self.startTime = startTime
        self.siteUTCOffset = siteUTCOffset
    }
}

/// One seismograph calling in to the PC, with the setup its reports print.
public struct GeneratedUnit: Sendable, Hashable {
    public var serialNumber: Int
    public var role: UnitRole
    /// How far the unit's clock runs ahead of the site's wall clock (negative: behind).
    public var clockSkew: Duration
    /// The four user-note labels an operator typed over the defaults; nil keeps Blastware's.
    public var renamedNoteLabels: [String]?
    /// The four user-note values, in the same order.
    public var noteValues: [String]
    /// `10.000 in/s` (Normal) or `1.250 in/s` (Sensitive).
    public var geoRange: String
    public var pcSoftwareVersion: String
    /// The unit's last calibration, in unit-local seconds since 1985.
    public var calibrationSecondsSince1985: Int
    public var batteryDecivolts: Int

    /// The four user-note labels in position order, as the report for `mode` prints them.
    ///
    /// Blastware's defaults differ by report variant: waveform reports say `Seis Loc:` and
    /// histogram reports `Seis. Location:` (domain.md §3.1).
    public func noteLabels(for mode: RecordingParameters.Mode) -> [String] {
        if let renamedNoteLabels { return renamedNoteLabels }
        return ["Project:", "Client:", "User Name:", mode == .waveform ? "Seis Loc:" : "Seis. Location:"]
    }

    /// The serial as Blastware prints it, e.g. `BE11529`.
    public var unitSerial: String { "BE\(serialNumber)" }
    /// The unit's monitor log in the ACH folder, e.g. `BE11529.MLG`.
    public var monitorLogName: String { "\(unitSerial).MLG" }
}

/// What a recording holds, which decides report fields and sample-table length.
public struct RecordingParameters: Sendable, Hashable {
    public enum Mode: String, Sendable, Hashable, Codable {
        case waveform
        case histogram
    }

    public var mode: Mode
    public var samplesPerSecond: Int
    public var recordDuration: Duration
    public var pretriggerDuration: Duration
    /// Histogram interval length; zero for waveforms.
    public var histogramInterval: Duration
    /// Histogram intervals; zero for waveforms.
    public var histogramIntervalCount: Int

    /// Samples per channel in a waveform (the sample table's rows).
    public var samplesPerChannel: Int {
        let seconds = (recordDuration + pretriggerDuration).wholeNanoseconds
        return Int(Int64(samplesPerSecond) * seconds / 1_000_000_000)
    }

    /// Rows of the report's table: samples for a waveform, intervals for a histogram.
    public var tableRowCount: Int { mode == .waveform ? samplesPerChannel : histogramIntervalCount }
}

/// One event: its name, content recipe and the times its files are written.
///
/// Content is not stored: `contentSeed` regenerates the exact bytes on demand, so a plan of
/// 100,000 events stays small and the applier materialises one file at a time. File names
/// are computed once here because writers and checkers ask for them many times per event.
public struct PlannedEvent: Sendable, Hashable {
    /// Index into `FolderPlan.units`.
    public var unitIndex: Int
    public let name: SimEventName
    public var recording: RecordingParameters
    /// Whether a tool lower-cased the binary's and reports' names.
    public let isLowercased: Bool
    public var reportNaming: ReportNaming
    public var binaryByteCount: Int
    public var includesSampleTable: Bool
    public var contentSeed: UInt64
    /// When the download of the binary begins (its file appears).
    public var downloadStart: FileTime
    /// When the binary's last chunk is written: its final modification time.
    public var binaryFinish: FileTime
    /// When the ACH report is written, for `.ach` and `.both`.
    public var achReportTime: FileTime?
    /// When the manual `<binary>.TXT` export is written, for `.binaryTxt` and `.both`.
    public var manualExportTime: FileTime?
    /// The binary's file name as it appears in the folder.
    public let binaryFileName: String
    /// The ACH report's file name (whether or not this event has one).
    public let achReportFileName: String
    /// The manual export's file name (whether or not this event has one).
    public let manualExportFileName: String

    init(unitIndex: Int, name: SimEventName, recording: RecordingParameters, isLowercased: Bool,
         reportNaming: ReportNaming, binaryByteCount: Int, includesSampleTable: Bool, contentSeed: UInt64,
         downloadStart: FileTime, binaryFinish: FileTime, achReportTime: FileTime?, manualExportTime: FileTime?) {
        self.unitIndex = unitIndex
        self.name = name
        self.recording = recording
        self.isLowercased = isLowercased
        self.reportNaming = reportNaming
        self.binaryByteCount = binaryByteCount
        self.includesSampleTable = includesSampleTable
        self.contentSeed = contentSeed
        self.downloadStart = downloadStart
        self.binaryFinish = binaryFinish
        self.achReportTime = achReportTime
        self.manualExportTime = manualExportTime
        let canonicalName = name.fileName
        let reportNames = SimReportNames.candidates(forBinary: canonicalName)
        func adjustCase(_ fileName: String) -> String { isLowercased ? fileName.lowercased() : fileName }
        binaryFileName = adjustCase(canonicalName)
        achReportFileName = adjustCase(reportNames[0])
        manualExportFileName = adjustCase(reportNames[1])
    }

    /// The report files this event gets, in the order they are written.
    public var reportFiles: [(name: String, time: FileTime)] {
        var files: [(name: String, time: FileTime)] = []
        if let achReportTime { files.append((achReportFileName, achReportTime)) }
        if let manualExportTime { files.append((manualExportFileName, manualExportTime)) }
        return files
    }

    /// The report a forwarder should pair (ACH wins when both exist), with its write time.
    public var preferredReport: (name: String, time: FileTime)? { reportFiles.first }
}

/// A file that is not an event and not a report: what the forwarder must leave alone.
public struct PlannedNoiseFile: Sendable, Hashable {
    public enum Content: Sendable, Hashable {
        case empty
        case text(String)
        /// `header` followed by seeded pseudo-random bytes up to `byteCount`.
        case pseudoRandom(header: [UInt8], byteCount: Int, seed: UInt64)
    }

    /// Path relative to the folder; one level deep for files inside a sub-folder.
    public var name: String
    public var content: Content
    public var modificationTime: FileTime
}

/// One call-in: the unit's `BE#####.MLG` grows by a line afterwards.
public struct MonitorLogSession: Sendable, Hashable {
    public var unitIndex: Int
    /// When the log line is written (after the session's last download).
    public var time: FileTime
    public var eventCount: Int
}

/// Everything a generated folder will contain and when each file is written.
///
/// Produced by `FolderPlanner.plan(_:)` and carried out by `DirectoryFolderWriter`,
/// `LiveWriteSchedule` or `SimEventFolder`; the plan itself touches nothing.
public struct FolderPlan: Sendable {
    public var options: FolderGenerationOptions
    public var units: [GeneratedUnit]
    /// Events in download order.
    public var events: [PlannedEvent]
    /// Call-in sessions in time order.
    public var monitorLogSessions: [MonitorLogSession]
    /// Noise files in time order.
    public var noiseFiles: [PlannedNoiseFile]
    /// Sub-folders, created at the start of the period.
    public var directoryNames: [String]
    public var periodStart: FileTime
    public var periodEnd: FileTime
}
