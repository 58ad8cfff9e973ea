/// What a generated unit records and how often it calls in.
///
/// Roles follow the event-rate profiles of domain.md §7, so a folder mixes the traffic shapes a
/// real Auto Call Home PC sees: sparse blasts, daily histograms, a wedged unit, a silent one.
public enum UnitRole: String, Sendable, Hashable, CaseIterable, Codable {
    /// Waveforms on workdays (blasts) plus false triggers, each downloaded after it is recorded.
    case blastMonitor
    /// One or two histograms a day plus histogram-combo waveforms.
    case vibrationMonitor
    /// A faulty trigger: back-to-back events, each called in 30–60 s after the last.
    case stuckTrigger
    /// Records nothing but still calls in daily, so only its monitor log changes.
    case idle
}

/// The knobs of a generated folder: unit mix, event rates, naming shares, timing and noise.
///
/// Every share is a probability in 0...1 and every duration carries its unit, so a profile reads
/// as the statement about the field it models; the named presets are the ones the CLI offers.
public struct FolderProfile: Sendable, Hashable {
    /// The name the CLI accepts (`--profile`).
    public var name: String
    /// Units when the caller gives none.
    public var defaultUnitCount: Int
    /// Simulated days when the caller gives neither days nor an event count.
    public var defaultDayCount: Int
    /// Relative weights of the unit roles; a role that is absent gets no units.
    public var unitRoleWeights: [UnitRole: Double]

    /// Blasts a blast monitor records on a workday (none on weekends).
    public var blastsPerWorkday: ClosedRange<Int>
    /// Traffic, wind and other false triggers a blast monitor records per day.
    public var falseTriggersPerDay: ClosedRange<Int>
    /// Histogram files a vibration monitor closes per day (one per scheduled call-in).
    public var histogramsPerDay: ClosedRange<Int>
    /// Waveforms a vibration monitor in histogram-combo mode saves per day.
    public var comboWaveformsPerDay: ClosedRange<Int>
    /// How long a stuck trigger keeps firing on a day it is stuck.
    public var stuckPeriodPerDay: ClosedRange<Duration>
    /// Time between two call-ins of a stuck trigger.
    public var stuckCallInterval: ClosedRange<Duration>
    /// Share of days on which a stuck-trigger unit is stuck; on other days it behaves like a blast monitor.
    public var stuckDayShare: Double

    /// Share of events downloaded manually (three-character extension, kind not encoded).
    public var manualDownloadShare: Double
    /// Share of unit-days on which the unit's clock battery failed and event times restart at 1995-01-01.
    public var clockResetDayShare: Double
    /// Largest difference between a unit's clock and the site's wall clock.
    public var unitClockSkewLimit: Duration
    /// Share of events whose file names a tool lower-cased (still events).
    public var lowercaseNameShare: Double

    /// Share of events with only a manual `<binary>.TXT` export as report.
    public var binaryTxtReportShare: Double
    /// Share of events with both the ACH report and a later manual `<binary>.TXT` export.
    public var bothReportNamesShare: Double
    /// Share of events whose report is never written.
    public var reportNeverWrittenShare: Double
    /// Share of written reports that come late, drawn from `reportLongTailDelay`.
    public var reportLongTailShare: Double
    /// Usual delay between a binary's last write and its report.
    public var reportDelay: ClosedRange<Duration>
    /// Delay of the late reports.
    public var reportLongTailDelay: ClosedRange<Duration>
    /// Delay between the ACH report and an operator's manual export of the same event.
    public var manualExportDelay: ClosedRange<Duration>
    /// Share of reports that end with the per-sample (or per-interval) table.
    public var sampleTableShare: Double
    /// Share of units whose operators renamed the four user-note labels.
    public var renamedNoteLabelsShare: Double

    /// How long writing one binary takes (it grows in chunks meanwhile).
    public var binaryWriteDuration: ClosedRange<Duration>
    /// Time between two chunks of one binary.
    public var binaryChunkInterval: ClosedRange<Duration>
    /// Time from the end of a recording to the start of its download.
    public var callInDelay: ClosedRange<Duration>

    /// Median waveform binary size in bytes.
    public var waveformMedianByteCount: Double
    /// 95th-percentile waveform binary size in bytes.
    public var waveformPercentile95ByteCount: Double
    /// Largest waveform binary in bytes.
    public var waveformMaximumByteCount: Int

    /// Share of events that also get a PDF, XML or WMF export with an event-like 8.3 name.
    public var documentExportShare: Double
    /// Share of call-in sessions that leave a stem-style monitor log such as `M529LK44.MLG`.
    public var stemMonitorLogShare: Double
    /// Share of events that leave a `.tmp`, `.bak` or `.log` file behind.
    public var leftoverFileShare: Double
    /// Share of leftover files that are empty.
    public var zeroByteLeftoverShare: Double
    /// Largest binary noise file (PDF, WMF, Thumbs.db) in bytes; small fixtures lower it.
    public var noiseFileMaximumByteCount: Int

    public init(
        name: String,
        defaultUnitCount: Int = 12,
        defaultDayCount: Int = 30,
        unitRoleWeights: [UnitRole: Double] = [.blastMonitor: 5, .vibrationMonitor: 4, .stuckTrigger: 0.3, .idle: 1],
        blastsPerWorkday: ClosedRange<Int> = 0...5,
        falseTriggersPerDay: ClosedRange<Int> = 0...10,
        histogramsPerDay: ClosedRange<Int> = 1...2,
        comboWaveformsPerDay: ClosedRange<Int> = 0...30,
        stuckPeriodPerDay: ClosedRange<Duration> = .seconds(2 * 3600) ... .seconds(8 * 3600),
        stuckCallInterval: ClosedRange<Duration> = .seconds(30) ... .seconds(60),
        stuckDayShare: Double = 0.1,
        manualDownloadShare: Double = 0.03,
        clockResetDayShare: Double = 0.003,
        unitClockSkewLimit: Duration = .seconds(300),
        lowercaseNameShare: Double = 0.003,
        binaryTxtReportShare: Double = 0.03,
        bothReportNamesShare: Double = 0.02,
        reportNeverWrittenShare: Double = 0.005,
        reportLongTailShare: Double = 0.05,
        reportDelay: ClosedRange<Duration> = .milliseconds(500) ... .seconds(5),
        reportLongTailDelay: ClosedRange<Duration> = .seconds(10) ... .seconds(120),
        manualExportDelay: ClosedRange<Duration> = .seconds(60) ... .seconds(4 * 3600),
        sampleTableShare: Double = 0.08,
        renamedNoteLabelsShare: Double = 0.2,
        binaryWriteDuration: ClosedRange<Duration> = .seconds(1) ... .seconds(10),
        binaryChunkInterval: ClosedRange<Duration> = .milliseconds(300) ... .milliseconds(1500),
        callInDelay: ClosedRange<Duration> = .seconds(20) ... .seconds(300),
        waveformMedianByteCount: Double = 10_000,
        waveformPercentile95ByteCount: Double = 60_000,
        waveformMaximumByteCount: Int = 1 << 20,
        documentExportShare: Double = 0.01,
        stemMonitorLogShare: Double = 0.05,
        leftoverFileShare: Double = 0.005,
        zeroByteLeftoverShare: Double = 0.4,
        noiseFileMaximumByteCount: Int = 80 * 1024
    ) {
        self.name = name
        self.defaultUnitCount = defaultUnitCount
        self.defaultDayCount = defaultDayCount
        self.unitRoleWeights = unitRoleWeights
        self.blastsPerWorkday = blastsPerWorkday
        self.falseTriggersPerDay = falseTriggersPerDay
        self.histogramsPerDay = histogramsPerDay
        self.comboWaveformsPerDay = comboWaveformsPerDay
        self.stuckPeriodPerDay = stuckPeriodPerDay
        self.stuckCallInterval = stuckCallInterval
        self.stuckDayShare = stuckDayShare
        self.manualDownloadShare = manualDownloadShare
        self.clockResetDayShare = clockResetDayShare
        self.unitClockSkewLimit = unitClockSkewLimit
        self.lowercaseNameShare = lowercaseNameShare
        self.binaryTxtReportShare = binaryTxtReportShare
        self.bothReportNamesShare = bothReportNamesShare
        self.reportNeverWrittenShare = reportNeverWrittenShare
        self.reportLongTailShare = reportLongTailShare
        self.reportDelay = reportDelay
        self.reportLongTailDelay = reportLongTailDelay
        self.manualExportDelay = manualExportDelay
        self.sampleTableShare = sampleTableShare
        self.renamedNoteLabelsShare = renamedNoteLabelsShare
        self.binaryWriteDuration = binaryWriteDuration
        self.binaryChunkInterval = binaryChunkInterval
        self.callInDelay = callInDelay
        self.waveformMedianByteCount = waveformMedianByteCount
        self.waveformPercentile95ByteCount = waveformPercentile95ByteCount
        self.waveformMaximumByteCount = waveformMaximumByteCount
        self.documentExportShare = documentExportShare
        self.stemMonitorLogShare = stemMonitorLogShare
        self.leftoverFileShare = leftoverFileShare
        self.zeroByteLeftoverShare = zeroByteLeftoverShare
        self.noiseFileMaximumByteCount = noiseFileMaximumByteCount
    }

    /// A mix of every role, weighted toward blast and vibration monitors.
    public static let mixed = FolderProfile(name: "mixed")

    /// Blast monitoring only: sparse waveforms on workdays, false triggers every day.
    public static let blastMonitoring = FolderProfile(
        name: "blast", unitRoleWeights: [.blastMonitor: 1])

    /// Construction vibration: histograms once or twice a day plus combo waveforms.
    public static let vibration = FolderProfile(
        name: "vibration", unitRoleWeights: [.vibrationMonitor: 1])

    /// A few units with a stuck trigger calling in every 30–60 s for hours every day.
    public static let stuckTrigger = FolderProfile(
        name: "stuck", defaultUnitCount: 2, defaultDayCount: 2,
        unitRoleWeights: [.stuckTrigger: 1], stuckDayShare: 1)

    /// Idle units: monitor logs grow, no events.
    public static let idle = FolderProfile(
        name: "idle", defaultUnitCount: 4, defaultDayCount: 7, unitRoleWeights: [.idle: 1])

    /// Every preset, in the order the CLI lists them.
    public static let presets: [FolderProfile] = [.mixed, .blastMonitoring, .vibration, .stuckTrigger, .idle]

    /// The preset called `name`, if any.
    public static func preset(named name: String) -> FolderProfile? {
        presets.first { $0.name == name.lowercased() }
    }

    /// Rough events per unit per day, for turning a requested event count into days.
    var expectedEventsPerUnitPerDay: Double {
        let totalWeight = UnitRole.allCases.reduce(0) { $0 + (unitRoleWeights[$1] ?? 0) }
        guard totalWeight > 0 else { return 0 }
        func mean(_ range: ClosedRange<Int>) -> Double { Double(range.lowerBound + range.upperBound) / 2 }
        let blastRate = mean(blastsPerWorkday) * 5 / 7 + mean(falseTriggersPerDay)
        let stuckPeriod = (stuckPeriodPerDay.lowerBound.secondsValue + stuckPeriodPerDay.upperBound.secondsValue) / 2
        let stuckInterval = (stuckCallInterval.lowerBound.secondsValue + stuckCallInterval.upperBound.secondsValue) / 2
        let stuckRate = stuckDayShare * stuckPeriod / stuckInterval + (1 - stuckDayShare) * blastRate
        let rates: [UnitRole: Double] = [
            .blastMonitor: blastRate,
            .vibrationMonitor: mean(histogramsPerDay) + mean(comboWaveformsPerDay),
            .stuckTrigger: stuckRate,
            .idle: 0,
        ]
        return UnitRole.allCases.reduce(0) { $0 + (unitRoleWeights[$1] ?? 0) * (rates[$1] ?? 0) } / totalWeight
    }
}
