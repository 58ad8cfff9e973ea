import ForwarderCore

/// Plans the files a real ACH folder collects beside events (domain.md §5).
///
/// Several of them have event-like 8.3 names on purpose (`M529LK44.PDF`, `M529LK44.MLG`), since
/// those are the ones a careless name filter would upload.
struct NoisePlanner {
    let units: [GeneratedUnit]
    let events: [PlannedEvent]
    let sessions: [MonitorLogSession]
    let profile: FolderProfile
    let siteUTCOffset: Duration
    let periodStart: FileTime
    let periodEnd: FileTime

    static let archiveFolderName = "Archive"
    static let oleHeader: [UInt8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]
    static let pdfHeader = Array("%PDF-1.4\n%\u{E2}\u{E3}\u{CF}\u{D3}\n".utf8)
    static let placeableMetafileHeader: [UInt8] = [0xD7, 0xCD, 0xC6, 0x9A, 0x00, 0x00]

    func plan(random: inout SeededRandom) -> (files: [PlannedNoiseFile], directoryNames: [String]) {
        var takenNames = Set<String>()
        for event in events {
            takenNames.insert(SimReportNames.foldedCase(event.binaryFileName))
            for report in event.reportFiles { takenNames.insert(SimReportNames.foldedCase(report.name)) }
        }
        for session in sessions { takenNames.insert(units[session.unitIndex].monitorLogName) }
        var files: [PlannedNoiseFile] = []
        let maximumByteCount = profile.noiseFileMaximumByteCount
        func add(_ name: String, _ content: PlannedNoiseFile.Content, at time: FileTime) {
            guard takenNames.insert(SimReportNames.foldedCase(name)).inserted else { return }
            var capped = content
            if case .pseudoRandom(let header, let byteCount, let seed) = content {
                capped = .pseudoRandom(header: header, byteCount: min(byteCount, max(header.count, maximumByteCount)), seed: seed)
            }
            files.append(PlannedNoiseFile(name: name, content: capped, modificationTime: time))
        }

        add("desktop.ini", .text("[.ShellClassInfo]\r\nIconResource=C:\\Windows\\system32\\imageres.dll,-184\r\n"),
            at: periodStart)
        add("Thumbs.db", .pseudoRandom(header: Self.oleHeader, byteCount: random.integer(in: 8...40) * 1024,
                                       seed: random.next()), at: periodStart + .seconds(3600))
        add("Blastware.log", .text(blastwareLog(random: &random)), at: periodEnd)
        add("New Text Document.txt", .empty, at: periodStart + .seconds(120))
        if let oldest = events.first, let archived = SimEventName(
            serialNumber: oldest.name.serialNumber,
            secondsSince1985: max(0, oldest.name.secondsSince1985 - 400 * 86_400), kind: .waveform) {
            add("\(Self.archiveFolderName)/\(archived.fileName)",
                .pseudoRandom(header: EventFileContents.seriesIIIHeader(typeTag: EventFileContents.eventTypeTag),
                              byteCount: random.integer(in: 4...12) * 1024, seed: random.next()),
                at: periodStart)
        }

        for event in events {
            let afterEvent = (event.preferredReport?.time ?? event.binaryFinish)
            if random.chance(profile.documentExportShare) {
                let time = afterEvent + random.duration(in: .seconds(5) ... .seconds(60))
                addDocumentExport(stem: event.name.stem, random: &random, at: time, into: add)
            }
            if random.chance(profile.leftoverFileShare) {
                let time = afterEvent + random.duration(in: .seconds(1) ... .seconds(30))
                let isEmpty = random.chance(profile.zeroByteLeftoverShare)
                let name: String
                switch random.integer(in: 0...2) {
                case 0: name = "~BW\(String(random.integer(in: 0...0xFFFF), radix: 16, uppercase: true)).tmp"
                case 1: name = "\(event.name.stem).BAK"
                default:
                    let date = event.name.localTime
                    name = "ACH\(date.year)\(twoDigits(date.month))\(twoDigits(date.day)).log"
                }
                let content: PlannedNoiseFile.Content = isEmpty ? .empty
                    : .pseudoRandom(header: [], byteCount: random.integer(in: 200...4000), seed: random.next())
                add(name, content, at: time)
            }
        }

        for session in sessions where random.chance(profile.stemMonitorLogShare) {
            let unit = units[session.unitIndex]
            let localSeconds = Int((session.time.nanosecondsSince1970 + siteUTCOffset.wholeNanoseconds
                + unit.clockSkew.wholeNanoseconds).floorDividedBy(1_000_000_000) - FolderPlanner.secondsFrom1970To1985)
            guard let sessionName = SimEventName(serialNumber: unit.serialNumber,
                                                       secondsSince1985: localSeconds, kind: .manual) else { continue }
            add("\(sessionName.stem).MLG", .pseudoRandom(header: EventFileContents.monitorLogPreamble(for: unit),
                                                         byteCount: random.integer(in: 600...3000), seed: random.next()),
                at: session.time + .seconds(1))
        }
        files.sort { ($0.modificationTime, $0.name) < ($1.modificationTime, $1.name) }
        return (files, [Self.archiveFolderName])
    }

    /// A BW Mail / Forwarding Agent export named after the event's stem.
    private func addDocumentExport(stem: String, random: inout SeededRandom, at time: FileTime,
                     into add: (String, PlannedNoiseFile.Content, FileTime) -> Void) {
        switch random.integer(in: 0...2) {
        case 0:
            add("\(stem).PDF", .pseudoRandom(header: Self.pdfHeader, byteCount: random.integer(in: 20...80) * 1024,
                                             seed: random.next()), time)
        case 1:
            add("\(stem).XML", .text("<?xml version=\"1.0\"?>\r\n<Event><Stem>\(stem)</Stem></Event>\r\n"), time)
        default:
            add("\(stem).WMF", .pseudoRandom(header: Self.placeableMetafileHeader,
                                             byteCount: random.integer(in: 4...30) * 1024, seed: random.next()), time)
        }
    }

    private func blastwareLog(random: inout SeededRandom) -> String {
        var lines = ["Blastware 10 Auto Call Home log"]
        for session in sessions.prefix(20) {
            lines.append("\(session.time) \(units[session.unitIndex].unitSerial) call-in, \(session.eventCount) event(s)")
        }
        lines.append("Retries configured: \(random.integer(in: 1...3))")
        return lines.joined(separator: "\r\n") + "\r\n"
    }
}

/// Two decimal digits with a leading zero, for dates in names and reports.
func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
