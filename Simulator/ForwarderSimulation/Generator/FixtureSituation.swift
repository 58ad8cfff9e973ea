import ForwarderCore

/// The named situations committed as small archives under `Tests/Fixtures/`.
///
/// Each is generated with a fixed seed and start, so a test can regenerate the folder and
/// compare it with the archive byte for byte, and `forwarder-sim generate --fixture NAME`
/// rebuilds one after the generator changes on purpose. Binaries and noise are kept small
/// (their bytes are random and do not compress) so all fixtures stay well under a megabyte.
public struct FixtureSituation: Sendable, Hashable {
    public var name: String
    public var summary: String
    public var options: FolderGenerationOptions

    /// Midnight UTC on Monday 2026-05-04, the start of every fixture.
    public static let fixtureStart = FileTime(secondsSince1970: 1_777_852_800)

    /// Small blast-monitor folders: a day, two units, tiny binaries, no sample tables.
    static func smallProfile(name: String) -> FolderProfile {
        FolderProfile(name: name, defaultUnitCount: 2, defaultDayCount: 1, unitRoleWeights: [.blastMonitor: 1],
                      blastsPerWorkday: 2...4, falseTriggersPerDay: 3...6, manualDownloadShare: 0.1,
                      sampleTableShare: 0, waveformMedianByteCount: 2600, waveformPercentile95ByteCount: 4000,
                      waveformMaximumByteCount: 6000, documentExportShare: 0.2, stemMonitorLogShare: 0.5,
                      leftoverFileShare: 0.2, noiseFileMaximumByteCount: 2048)
    }

    /// ACH reports, manual `<binary>.TXT` exports and events with both, some lower-cased.
    public static let reportsInBothNamings: FixtureSituation = {
        var profile = smallProfile(name: "reports-both-namings")
        profile.binaryTxtReportShare = 0.3
        profile.bothReportNamesShare = 0.3
        profile.lowercaseNameShare = 0.15
        return FixtureSituation(name: profile.name, summary: "reports named the ACH way, the manual way, and both",
                                options: FolderGenerationOptions(seed: 20_260_504, profile: profile, startTime: fixtureStart))
    }()

    /// Many events whose report never arrives or arrives late.
    public static let reportsMissing: FixtureSituation = {
        var profile = smallProfile(name: "reports-missing")
        profile.reportNeverWrittenShare = 0.5
        profile.reportLongTailShare = 0.4
        return FixtureSituation(name: profile.name, summary: "half the events have no report; many reports are late",
                                options: FolderGenerationOptions(seed: 20_260_505, profile: profile, startTime: fixtureStart))
    }()

    /// No events at all: monitor logs of idle units and the usual clutter.
    public static let noiseOnly: FixtureSituation = {
        var profile = smallProfile(name: "noise-only")
        profile.unitRoleWeights = [.idle: 1]
        profile.defaultUnitCount = 3
        profile.defaultDayCount = 4
        return FixtureSituation(name: profile.name, summary: "monitor logs and clutter, no events",
                                options: FolderGenerationOptions(seed: 20_260_506, profile: profile, startTime: fixtureStart))
    }()

    public static let all: [FixtureSituation] = [reportsInBothNamings, reportsMissing, noiseOnly]

    public static func named(_ name: String) -> FixtureSituation? { all.first { $0.name == name } }

    /// The archive's file name under `Tests/Fixtures/`.
    public var archiveFileName: String { "\(name).tar.gz" }
}
