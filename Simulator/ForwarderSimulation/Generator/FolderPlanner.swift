import ForwarderCore

/// Decides every unit, event, report, noise file and write time of a folder from one seed.
///
/// A pure function of its options: no clock, no file system, no system randomness. Each concern
/// draws from its own `SeededRandom.derived(_:)` stream, so adding a draw in one place does not
/// reshuffle everything else.
public enum FolderPlanner {
    /// Seconds from 1970-01-01 to 1985-01-01, the epoch of Blastware event names.
    static let secondsFrom1970To1985: Int64 = 473_385_600
    static let secondsPerDay: Int64 = 86_400
    /// Unit-local seconds since 1985 of 1995-01-01T00:00:00, where a unit with a dead clock battery restarts.
    static let clockResetSecondsSince1985 = SimCivilTime(year: 1995, month: 1, day: 1).secondsSince1985
    /// Call-ins closer together than this are one session and share one monitor-log line.
    static let sessionJoinGap: Duration = .seconds(30)

    /// The plan for `options`.
    public static func plan(_ options: FolderGenerationOptions) -> FolderPlan {
        let profile = options.profile
        let root = SeededRandom(seed: options.seed)
        let unitCount = max(1, options.unitCount ?? profile.defaultUnitCount)
        let dayCount = dayCount(for: options, unitCount: unitCount)
        var unitsRandom = root.derived("units")
        let units = makeUnits(count: unitCount, profile: profile, serialNumbers: options.serialNumbers, random: &unitsRandom)

        let periodStart = options.startTime
        let requestedEnd = periodStart + .seconds(secondsPerDay * Int64(dayCount))
        var events: [PlannedEvent] = []
        var sessions: [MonitorLogSession] = []
        for unitIndex in units.indices {
            var unitPlanner = UnitPlanner(options: options, unit: units[unitIndex], unitIndex: unitIndex,
                                          dayCount: dayCount, random: root.derived("unit-\(unitIndex)"))
            let unitEvents = unitPlanner.plan(periodStart: periodStart, periodEnd: requestedEnd)
            events += unitEvents.events
            sessions += unitEvents.sessions
        }
        events.sort { ($0.downloadStart, $0.binaryFileName) < ($1.downloadStart, $1.binaryFileName) }
        sessions.sort { ($0.time, $0.unitIndex) < ($1.time, $1.unitIndex) }

        var periodEnd = requestedEnd
        if let eventCount = options.eventCount, events.count > eventCount {
            events.removeSubrange(eventCount...)
            let lastFinish = events.map(\.binaryFinish).max() ?? periodStart
            periodEnd = lastFinish + .seconds(60)
            sessions.removeAll { $0.time > periodEnd }
        }
        let lastWrite = events.flatMap { event in [event.binaryFinish] + event.reportFiles.map(\.time) }.max()
        periodEnd = max(periodEnd, lastWrite ?? periodEnd)

        var noiseRandom = root.derived("noise")
        let noise = NoisePlanner(units: units, events: events, sessions: sessions, profile: profile,
                                 siteUTCOffset: options.siteUTCOffset, periodStart: periodStart, periodEnd: periodEnd)
            .plan(random: &noiseRandom)
        return FolderPlan(options: options, units: units, events: events, monitorLogSessions: sessions,
                          noiseFiles: noise.files, directoryNames: noise.directoryNames,
                          periodStart: periodStart, periodEnd: periodEnd)
    }

    /// The plan for `options` with its start moved so that the period ends shortly before
    /// `end`: what history mode wants when the folder should look as if it had been collecting
    /// until now. `options.startTime` is ignored. Moving the start changes which days are
    /// workdays and where midnights fall, so the end moves too; each retry leaves a wider
    /// margin until no file is written after `end`.
    public static func plan(_ options: FolderGenerationOptions, endingAt end: FileTime) -> FolderPlan {
        var shifted = options
        shifted.startTime = end - .seconds(secondsPerDay * Int64(dayCount(for: options)))
        var plan = plan(shifted)
        var margin = Duration.seconds(60)
        for attempt in 0..<12 where plan.periodEnd > end || (attempt == 0 && plan.periodEnd < end - .seconds(3600)) {
            let gap = end - margin - plan.periodEnd
            shifted.startTime = FileTime(secondsSince1970: (shifted.startTime + gap).nanosecondsSince1970.floorDividedBy(1_000_000_000))
            plan = Self.plan(shifted)
            margin = margin * 4
        }
        return plan
    }

    /// Days the plan for `options` simulates: given, or enough to reach the requested event
    /// count, or the profile's default. A caller that wants the period to end now starts it
    /// this many days earlier.
    public static func dayCount(for options: FolderGenerationOptions) -> Int {
        dayCount(for: options, unitCount: max(1, options.unitCount ?? options.profile.defaultUnitCount))
    }

    static func dayCount(for options: FolderGenerationOptions, unitCount: Int) -> Int {
        if let dayCount = options.dayCount { return max(1, dayCount) }
        guard let eventCount = options.eventCount else { return options.profile.defaultDayCount }
        let eventsPerDay = options.profile.expectedEventsPerUnitPerDay * options.eventRateScale * Double(unitCount)
        guard eventsPerDay > 0 else { return options.profile.defaultDayCount }
        // Generous, because the count is trimmed to exactly `eventCount` afterwards.
        return Int((Double(eventCount) / eventsPerDay * 1.5).rounded(.up)) + 2
    }

    static func makeUnits(count: Int, profile: FolderProfile, serialNumbers: ClosedRange<Int>? = nil,
                          random: inout SeededRandom) -> [GeneratedUnit] {
        let roleChoices = UnitRole.allCases.compactMap { role -> (element: UnitRole, weight: Double)? in
            guard let weight = profile.unitRoleWeights[role], weight > 0 else { return nil }
            return (role, weight)
        }
        var usedSerials = Set<Int>()
        var units: [GeneratedUnit] = []
        let serialRange = serialNumbers ?? 1000...24_999
        for _ in 0..<min(count, serialRange.count) {
            var serial = random.integer(in: serialRange)
            while usedSerials.contains(serial) { serial = random.integer(in: serialRange) }
            usedSerials.insert(serial)
            let role = roleChoices.isEmpty ? .idle : random.weighted(roleChoices)
            let skewLimit = profile.unitClockSkewLimit.wholeNanoseconds / 1_000_000_000
            let renamedLabels = random.chance(profile.renamedNoteLabelsShare)
                ? random.element(of: SiteVocabulary.renamedNoteLabelSets) : nil
            let noteValues = [
                random.element(of: SiteVocabulary.projects), random.element(of: SiteVocabulary.clients),
                random.element(of: SiteVocabulary.operators),
                "Loc #\(random.integer(in: 1...9)) - \(random.element(of: SiteVocabulary.addresses))",
            ]
            units.append(GeneratedUnit(
                serialNumber: serial, role: role,
                clockSkew: .seconds(random.integer(in: Int(-skewLimit)...Int(skewLimit))),
                renamedNoteLabels: renamedLabels, noteValues: noteValues,
                geoRange: random.chance(0.8) ? "10.000 in/s" : "1.250 in/s",
                pcSoftwareVersion: random.element(of: ["10.72", "10.72.2", "10.73", "10.74.1"]),
                calibrationSecondsSince1985: SimCivilTime(year: random.integer(in: 2023...2025),
                                                           month: random.integer(in: 1...12),
                                                           day: random.integer(in: 1...28)).secondsSince1985,
                batteryDecivolts: random.integer(in: 58...68)))
        }
        return units
    }
}

/// The events and call-ins of one unit over the period.
struct UnitPlanner {
    let options: FolderGenerationOptions
    let unit: GeneratedUnit
    let unitIndex: Int
    let dayCount: Int
    var random: SeededRandom

    /// A recording before it is downloaded.
    struct Recording {
        var triggerTime: FileTime
        var readyTime: FileTime
        var recording: RecordingParameters
        var byteCount: Int
        var isClockReset: Bool
        /// Site-local midnight of the recording's day, where a reset clock restarts.
        var dayMidnight: FileTime
    }

    var profile: FolderProfile { options.profile }

    mutating func plan(periodStart: FileTime, periodEnd: FileTime) -> (events: [PlannedEvent], sessions: [MonitorLogSession]) {
        let offset = options.siteUTCOffset.wholeNanoseconds
        let dayNanoseconds = FolderPlanner.secondsPerDay * 1_000_000_000
        let firstLocalMidnight = (periodStart.nanosecondsSince1970 + offset).floorDividedBy(dayNanoseconds) * dayNanoseconds
        var recordings: [Recording] = []
        var idleCallIns: [FileTime] = []
        for day in 0...dayCount {
            var dayRandom = random.derived("day-\(day)")
            let localMidnight = firstLocalMidnight + Int64(day) * dayNanoseconds
            let midnight = FileTime(nanosecondsSince1970: localMidnight - offset)
            let weekday = Int((localMidnight / dayNanoseconds + 4) % 7)
            let isClockReset = dayRandom.chance(profile.clockResetDayShare)
            var dayRecordings: [Recording] = []
            var role = unit.role
            if role == .stuckTrigger, !dayRandom.chance(profile.stuckDayShare) { role = .blastMonitor }
            switch role {
            case .blastMonitor:
                let isWorkday = (1...5).contains(weekday)
                let blastCount = isWorkday ? scaled(dayRandom.integer(in: profile.blastsPerWorkday), random: &dayRandom) : 0
                for _ in 0..<blastCount {
                    let time = midnight + dayRandom.duration(in: .seconds(8 * 3600) ... .seconds(17 * 3600))
                    dayRecordings.append(waveform(at: time, callInDelay: profile.callInDelay, random: &dayRandom))
                }
                for _ in 0..<scaled(dayRandom.integer(in: profile.falseTriggersPerDay), random: &dayRandom) {
                    let time = midnight + dayRandom.duration(in: .zero ... .seconds(86_399))
                    dayRecordings.append(waveform(at: time, callInDelay: profile.callInDelay, random: &dayRandom))
                }
            case .vibrationMonitor:
                let histogramCount = max(1, dayRandom.integer(in: profile.histogramsPerDay))
                let span = Duration.seconds(86_400 / histogramCount)
                for index in 0..<histogramCount {
                    dayRecordings.append(histogram(from: midnight + span * index, span: span, random: &dayRandom))
                }
                for _ in 0..<scaled(dayRandom.integer(in: profile.comboWaveformsPerDay), random: &dayRandom) {
                    let time = midnight + dayRandom.duration(in: .zero ... .seconds(86_399))
                    dayRecordings.append(waveform(at: time, callInDelay: profile.callInDelay, random: &dayRandom))
                }
            case .stuckTrigger where options.eventRateScale > 0:
                let stuckPeriod = dayRandom.duration(in: profile.stuckPeriodPerDay)
                let latestStart = max(Duration.zero, .seconds(86_400) - stuckPeriod)
                var time = midnight + dayRandom.duration(in: .zero ... latestStart)
                let stuckEnd = time + stuckPeriod
                while time < stuckEnd {
                    dayRecordings.append(waveform(at: time, callInDelay: .seconds(2) ... .seconds(5), random: &dayRandom))
                    time = time + scaledInterval(dayRandom.duration(in: profile.stuckCallInterval))
                }
            case .idle, .stuckTrigger:
                idleCallIns.append(midnight + dayRandom.duration(in: .zero ... .seconds(86_399)))
            }
            for index in dayRecordings.indices {
                dayRecordings[index].isClockReset = isClockReset
                dayRecordings[index].dayMidnight = midnight
            }
            recordings += dayRecordings
        }
        recordings.sort { $0.readyTime < $1.readyTime }
        var downloads = downloadSchedule(for: recordings, periodStart: periodStart, periodEnd: periodEnd)
        downloads.sessions += idleCallIns.filter { $0 >= periodStart && $0 < periodEnd }
            .map { MonitorLogSession(unitIndex: unitIndex, time: $0, eventCount: 0) }
        return downloads
    }

    /// `count` multiplied by the options' rate scale, rounded up or down at random so the mean
    /// is exact; draws nothing at the profile's own rates, so those plans stay as they were.
    func scaled(_ count: Int, random: inout SeededRandom) -> Int {
        let scale = options.eventRateScale
        guard scale != 1 else { return count }
        let exact = Double(count) * scale
        let whole = Int(exact.rounded(.down))
        return whole + (random.chance(exact - Double(whole)) ? 1 : 0)
    }

    /// A stuck trigger's call interval divided by the rate scale (at least a second).
    func scaledInterval(_ interval: Duration) -> Duration {
        let scale = options.eventRateScale
        guard scale != 1 else { return interval }
        return max(.seconds(1), .nanoseconds(Int64(Double(interval.wholeNanoseconds) / scale)))
    }

    /// Downloads recordings one after another, as a modem call does, and groups them into sessions.
    mutating func downloadSchedule(for recordings: [Recording], periodStart: FileTime,
                                   periodEnd: FileTime) -> (events: [PlannedEvent], sessions: [MonitorLogSession]) {
        var events: [PlannedEvent] = []
        var sessions: [MonitorLogSession] = []
        var usedLocalSeconds = Set<Int>()
        var busyUntil: FileTime?
        var sessionEventCount = 0
        for recording in recordings {
            var start = recording.readyTime
            if let busyUntil, start < busyUntil + .seconds(1) { start = busyUntil + .seconds(1) }
            guard start >= periodStart, start < periodEnd else { continue }
            if let busyUntil, start > busyUntil + FolderPlanner.sessionJoinGap {
                sessions.append(MonitorLogSession(unitIndex: unitIndex, time: busyUntil + .seconds(2),
                                                  eventCount: sessionEventCount))
                sessionEventCount = 0
            }
            var localSeconds = localSecondsSince1985(of: recording)
            while usedLocalSeconds.contains(localSeconds) { localSeconds += 1 }
            usedLocalSeconds.insert(localSeconds)
            let finish = start + random.duration(in: profile.binaryWriteDuration)
            if let event = plannedEvent(for: recording, localSeconds: localSeconds, downloadStart: start, binaryFinish: finish) {
                events.append(event)
                sessionEventCount += 1
            }
            busyUntil = finish
        }
        if let busyUntil, sessionEventCount > 0 {
            sessions.append(MonitorLogSession(unitIndex: unitIndex, time: busyUntil + .seconds(2),
                                              eventCount: sessionEventCount))
        }
        return (events, sessions)
    }

    mutating func plannedEvent(for recording: Recording, localSeconds: Int, downloadStart: FileTime,
                               binaryFinish: FileTime) -> PlannedEvent? {
        let kind: SimEventName.Kind
        if random.chance(profile.manualDownloadShare) {
            kind = .manual
        } else {
            kind = recording.recording.mode == .waveform ? .waveform : .histogram
        }
        guard let name = SimEventName(serialNumber: unit.serialNumber, secondsSince1985: localSeconds, kind: kind)
        else { return nil }
        let naming = random.weighted([
            (ReportNaming.none, profile.reportNeverWrittenShare),
            (.binaryTxt, profile.binaryTxtReportShare),
            (.both, profile.bothReportNamesShare),
            (.ach, max(0, 1 - profile.reportNeverWrittenShare - profile.binaryTxtReportShare - profile.bothReportNamesShare)),
        ])
        let reportDelay = random.chance(profile.reportLongTailShare)
            ? random.duration(in: profile.reportLongTailDelay) : random.duration(in: profile.reportDelay)
        let manualExportDelay = random.duration(in: profile.manualExportDelay)
        var achReportTime: FileTime?
        var manualExportTime: FileTime?
        switch naming {
        case .ach: achReportTime = binaryFinish + reportDelay
        case .binaryTxt: manualExportTime = binaryFinish + manualExportDelay
        case .both:
            achReportTime = binaryFinish + reportDelay
            manualExportTime = binaryFinish + reportDelay + manualExportDelay
        case .none: break
        }
        return PlannedEvent(
            unitIndex: unitIndex, name: name, recording: recording.recording,
            isLowercased: random.chance(profile.lowercaseNameShare), reportNaming: naming,
            binaryByteCount: recording.byteCount, includesSampleTable: random.chance(profile.sampleTableShare),
            contentSeed: random.next(), downloadStart: downloadStart, binaryFinish: binaryFinish,
            achReportTime: achReportTime, manualExportTime: manualExportTime)
    }

    /// The unit's clock reading at the trigger: site time plus skew, or time since a 1995 reset.
    func localSecondsSince1985(of recording: Recording) -> Int {
        if recording.isClockReset {
            let sinceReset = (recording.triggerTime - recording.dayMidnight).wholeNanoseconds / 1_000_000_000
            return FolderPlanner.clockResetSecondsSince1985 + Int(sinceReset)
        }
        let localNanoseconds = recording.triggerTime.nanosecondsSince1970 + options.siteUTCOffset.wholeNanoseconds
            + unit.clockSkew.wholeNanoseconds
        return Int(localNanoseconds.floorDividedBy(1_000_000_000) - FolderPlanner.secondsFrom1970To1985)
    }

    /// A waveform recording whose size follows the profile's log-normal and whose record time fits that size.
    func waveform(at triggerTime: FileTime, callInDelay: ClosedRange<Duration>,
                           random: inout SeededRandom) -> Recording {
        let drawnByteCount = random.logNormal(median: profile.waveformMedianByteCount,
                                              percentile95: profile.waveformPercentile95ByteCount)
        let byteCount = min(profile.waveformMaximumByteCount, max(2048, Int(drawnByteCount)))
        let samplesPerSecond = random.weighted([(1024, 0.7), (2048, 0.25), (4096, 0.05)])
        let bytesPerSample = 0.6 + random.unitInterval()
        let recordedSeconds = Double(byteCount - 2048) / 4 / bytesPerSample / Double(samplesPerSecond)
        let recordSeconds = [1, 2, 3, 5, 7, 8, 10, 13].min { abs(Double($0) - recordedSeconds) < abs(Double($1) - recordedSeconds) } ?? 3
        let parameters = RecordingParameters(
            mode: .waveform, samplesPerSecond: samplesPerSecond, recordDuration: .seconds(recordSeconds),
            pretriggerDuration: .milliseconds(250), histogramInterval: .zero, histogramIntervalCount: 0)
        let readyTime = triggerTime + .seconds(recordSeconds) + random.duration(in: callInDelay)
        return Recording(triggerTime: triggerTime, readyTime: readyTime, recording: parameters, byteCount: byteCount,
                         isClockReset: false, dayMidnight: triggerTime)
    }

    /// A histogram covering `span` from `start`, downloaded at the call-in after it closes.
    func histogram(from start: FileTime, span: Duration, random: inout SeededRandom) -> Recording {
        let interval = random.weighted([(Duration.seconds(60), 0.7), (.seconds(300), 0.15), (.seconds(15), 0.15)])
        let intervalCount = Int(span.wholeNanoseconds / interval.wholeNanoseconds)
        let byteCount = random.integer(in: 2048...3072) + 32 * intervalCount
        let parameters = RecordingParameters(
            mode: .histogram, samplesPerSecond: random.weighted([(1024, 0.8), (2048, 0.2)]), recordDuration: span,
            pretriggerDuration: .zero, histogramInterval: interval, histogramIntervalCount: intervalCount)
        let readyTime = start + span + random.duration(in: profile.callInDelay)
        return Recording(triggerTime: start, readyTime: readyTime, recording: parameters, byteCount: byteCount,
                         isClockReset: false, dayMidnight: start)
    }
}

extension Int64 {
    /// Division rounding toward negative infinity.
    func floorDividedBy(_ divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}

/// Words for the user-note lines of generated reports.
enum SiteVocabulary {
    static let renamedNoteLabelSets = [
        ["Building:", "Contractor:", "Operator:", "Location:"],
        ["Job Number:", "Customer:", "Technician:", "Monitor Point:"],
        ["Project:", "Owner:", "Operator:", "Building:"],
    ]
    static let projects = [
        "Highway 7 Interchange", "Quarry North Face", "Riverside Tower", "Main St. Watermain",
        "Harbour Tunnel Stage 2", "Elm Creek Bridge", "Metro Line Extension", "Pit 4 Expansion",
    ]
    static let clients = [
        "Northern Aggregates", "City of Lakeview", "Granite Works Ltd.", "Coastal Transit Authority",
        "Summit Construction", "Provincial Highways",
    ]
    static let operators = ["J. Martin", "A. Okafor", "S. Lindqvist", "R. Patel", "M. Dubois", "K. Tanaka"]
    static let addresses = [
        "125 Main St.", "North property line", "School fence east", "4410 Quarry Rd.",
        "Church basement", "Pier 7 bollard", "Residence 22 Elm Ave.",
    ]
}
