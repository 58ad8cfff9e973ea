import ForwarderCore
import Foundation

// The mock's mutable state: store, journal, counters and the import itself, under its lock.
extension MockSFM {
    /// Everything that changes, guarded by the mock's lock.
    struct State: Sendable {
        var events: [EventKey: StoredEvent] = [:]
        /// Case-folded binary name of every stored event, for attaching reports sent alone.
        var keysByBinaryName: [String: EventKey] = [:]
        /// The key each stored binary digest was first stored under.
        var keysByDigest: [EventDigest: EventKey] = [:]
        var journal: JournalRing
        var stats = MockStats()
        var injector: FaultInjector
        let seed: UInt64
        var planInstalledAt: FileTime?
        var requestsSincePlanInstalled = 0
        var capacity: CapacityModel?

        init(configuration: Configuration, plan: FaultPlan, installedAt: FileTime?) {
            journal = JournalRing(capacity: configuration.journalCapacity)
            capacity = configuration.capacity.map { CapacityModel(plan: $0) }
            seed = configuration.seed
            injector = FaultInjector(plan: plan, defaultSeed: configuration.seed)
            planInstalledAt = installedAt
        }

        mutating func install(_ plan: FaultPlan, at time: FileTime?) {
            injector = FaultInjector(plan: plan, defaultSeed: seed)
            planInstalledAt = time
            requestsSincePlanInstalled = 0
        }

        /// Decides faults, applies the upload, journals it; returns the exchange and, when the
        /// reply is the contract's JSON, the rows to encode into it.
        mutating func handle(_ request: MockImportRequest, files: Result<[ReceivedFile], MockRejection>,
                             reports: [Int: BlastwareReport], bodyByteCount: Int, slot: CapacitySlot?)
            -> (MockExchange, [MockReplyRow]?) {
            requestsSincePlanInstalled += 1
            let installedAt = planInstalledAt ?? request.receivedAt
            planInstalledAt = installedAt
            let elapsed = request.receivedAt - installedAt
            let fileNames = (try? files.get())?.map(\.name) ?? []
            let decision = injector.decide(requestNumber: requestsSincePlanInstalled, elapsed: elapsed, fileNames: fileNames)
            stats.requests += 1
            for fired in decision.firedRules {
                stats.faultsByKind[fired.kind, default: 0] += 1
                stats.faultsByRule[fired.rule, default: 0] += 1
            }

            var entry = JournalEntry(
                sequence: journal.nextSequence, requestNumber: requestsSincePlanInstalled,
                receivedAtNanosecondsSince1970: request.receivedAt.nanosecondsSince1970,
                receivedAt: request.receivedAt.description, elapsedSeconds: elapsed.secondsValue,
                serialHint: request.serialHint, contentType: request.contentType, bodyByteCount: bodyByteCount,
                files: [], outcome: .imported, httpStatus: nil, rows: [], stored: false,
                fault: decision.terminal.map { FiredRule(rule: $0.rule, kind: $0.fault.kindName, afterStore: $0.afterStore) },
                firedRules: decision.firedRules, delayMilliseconds: decision.delay.secondsValue * 1000, detail: nil,
                queueMilliseconds: slot.map { Double(max(.zero, $0.startAt - request.receivedAt).wholeNanoseconds) / 1e6 },
                serviceMilliseconds: slot.map { Double($0.serviceTime.wholeNanoseconds) / 1e6 })

            var storedFiles: [ReceivedFile] = []
            var rows: [MockReplyRow] = []
            var reply: MockReply
            var rowsToEncode: [MockReplyRow]?

            switch files {
            case .failure(let rejection):
                stats.rejectedRequests += 1
                entry.outcome = .rejected
                entry.detail = rejection.detail
                reply = .respond(MockHTTPResponse(
                    status: rejection.status, headers: [MockHeader("Content-Type", "application/json")],
                    body: MockSFM.detailBody(rejection.detail), delay: decision.delay,
                    bodyPacing: decision.bodyPacing))
            case .success(let received):
                entry.files = received.map { file in
                    JournalFile(name: file.name, byteCount: file.byteCount, digest: file.digest.hex,
                                role: file.role == .report ? "report" : "binary")
                }
                let importsNow = decision.terminal.map(\.afterStore) ?? true
                if importsNow {
                    (rows, storedFiles) = apply(received, reports: reports, request: request)
                    entry.stored = !storedFiles.isEmpty
                } else {
                    rows = received.map { file in
                        MockReplyRow(filename: file.name, status: "ok", filesize: Int64(file.byteCount),
                                         inserted: 0, skipped: 0, detail: "not stored: fault injected before storing")
                    }
                }
                rowsToEncode = rows
                reply = .respond(MockHTTPResponse(
                    status: 200, headers: [MockHeader("Content-Type", "application/json")], body: Data(),
                    delay: decision.delay, bodyPacing: decision.bodyPacing))
            }

            if let injected = decision.terminal {
                stats.faultedRequests += 1
                if entry.stored { stats.storedThenFaulted += 1 }
                entry.outcome = .faulted
                (reply, rowsToEncode) = faultReply(injected, decision: decision, rows: rows, files: files)
            }
            entry.rows = rowsToEncode ?? rows
            entry.httpStatus = reply.status
            journal.append(entry)
            return (MockExchange(reply: reply, journalEntry: entry, storedFiles: storedFiles), rowsToEncode)
        }

        /// The answer a terminal fault gives instead of the normal one.
        private mutating func faultReply(_ injected: InjectedFault, decision: FaultDecision, rows: [MockReplyRow],
                                         files: Result<[ReceivedFile], MockRejection>)
            -> (MockReply, [MockReplyRow]?) {
            let delay = decision.delay
            let json = [MockHeader("Content-Type", "application/json")]
            func respond(_ status: Int, _ headers: [MockHeader], _ body: Data) -> MockReply {
                .respond(MockHTTPResponse(status: status, headers: headers, body: body, delay: delay,
                                          bodyPacing: decision.bodyPacing))
            }
            let binaryNames = Set(((try? files.get()) ?? []).filter { $0.role != .report }.map(\.name))
            switch injected.fault {
            case .connectionReset:
                return (.socketFault(.connectionReset, delay: delay), nil)
            case .closeWithoutResponse:
                return (.socketFault(.closeWithoutResponse, delay: delay), nil)
            case .malformedChunk:
                let bytes = Data(("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + "Transfer-Encoding: chunked\r\n\r\nZZ-not-hex\r\n{\"count\":\r\n").utf8)
                return (.socketFault(.malformedChunk(bytes), delay: delay), nil)
            case .garbageThenClose:
                return (.socketFault(.garbageThenClose(decision.garbage), delay: delay), nil)
            case .noAnswer(let maximum):
                return (.socketFault(.noAnswer(maximum: maximum), delay: delay), nil)
            case .httpStatus(let code, let retryAfterSeconds):
                var headers = json
                if let retryAfterSeconds { headers.append(MockHeader("Retry-After", String(retryAfterSeconds))) }
                return (respond(code, headers, MockSFM.detailBody("injected fault: HTTP \(code)")), nil)
            case .nonJSONBody:
                let page = "<html><head><title>502 Bad Gateway</title></head><body>mock SFM: injected non-JSON reply</body></html>"
                return (respond(200, [MockHeader("Content-Type", "text/html")], Data(page.utf8)), nil)
            case .missingRow:
                return (respond(200, json, Data()), rows.filter { !binaryNames.contains($0.filename) })
            case .fileErrorRow(let detail):
                stats.errorRows += rows.count
                let errorRows = rows.map { row in
                    MockReplyRow(filename: row.filename, status: "error", filesize: row.filesize,
                                     inserted: 0, skipped: 0, detail: detail)
                }
                return (respond(200, json, Data()), errorRows)
            case .delay, .slowBody:
                return (respond(200, json, Data()), rows)
            }
        }

        /// Upserts every binary with its paired report and attaches reports sent alone.
        private mutating func apply(_ files: [ReceivedFile], reports: [Int: BlastwareReport],
                                    request: MockImportRequest) -> ([MockReplyRow], [ReceivedFile]) {
            let pairing = ReportPairing(files)
            var rows: [MockReplyRow] = []
            var storedFiles: [ReceivedFile] = []
            for (index, file) in files.enumerated() {
                switch file.role {
                case .binary(let decoded):
                    guard let decoded else {
                        stats.errorRows += 1
                        rows.append(MockReplyRow(filename: file.name, status: "error", filesize: Int64(file.byteCount),
                                                     inserted: 0, skipped: 0,
                                                     detail: "cannot decode a serial and event time from the name"))
                        continue
                    }
                    let reportIndex = pairing.reportIndexByBinary[index]
                    let report = reportIndex.map { (file: files[$0], parsed: reports[$0]) }
                    let (row, changed) = upsert(file, decoded: decoded, report: report, request: request)
                    rows.append(row)
                    if changed {
                        storedFiles.append(file)
                        if let reportIndex { storedFiles.append(files[reportIndex]) }
                    }
                case .report:
                    if let binaryIndex = pairing.binaryIndexByReport[index] {
                        let detail = pairing.reportIndexByBinary[binaryIndex] == index
                            ? "report for \(files[binaryIndex].name)"
                            : "not used: another report name is preferred for \(files[binaryIndex].name)"
                        rows.append(MockReplyRow(filename: file.name, status: "ok", filesize: Int64(file.byteCount),
                                                     inserted: 0, skipped: 0, detail: detail))
                    } else {
                        let (row, changed) = attachAlone(file, report: reports[index], request: request)
                        rows.append(row)
                        if changed { storedFiles.append(file) }
                    }
                }
            }
            return (rows, storedFiles)
        }

        private mutating func upsert(_ file: ReceivedFile, decoded: SimEventName,
                                     report: (file: ReceivedFile, parsed: BlastwareReport?)?,
                                     request: MockImportRequest) -> (MockReplyRow, Bool) {
            let key = EventKey(decoded)
            let receivedAt = request.receivedAt.description
            func row(inserted: Int, skipped: Int, _ detail: String) -> MockReplyRow {
                MockReplyRow(filename: file.name, status: "ok", filesize: Int64(file.byteCount),
                                 inserted: inserted, skipped: skipped, detail: detail)
            }
            guard var event = events[key] else {
                var detail = "inserted \(decoded.unitSerial) \(decoded.localTime)"
                if let other = keysByDigest[file.digest], let otherEvent = events[other] {
                    stats.sameContentOtherKey += 1
                    detail += "; same content as \(otherEvent.binaryName)"
                }
                events[key] = StoredEvent(
                    unitSerial: decoded.unitSerial, serialNumber: decoded.serialNumber,
                    secondsSince1985: decoded.secondsSince1985, eventTime: decoded.localTime.description,
                    kind: Self.kindName(decoded.kind), binaryName: file.name, binaryByteCount: file.byteCount,
                    binaryDigest: file.digest.hex, reportName: report?.file.name,
                    reportDigest: report?.file.digest.hex, report: report?.parsed,
                    serialHint: request.serialHint, firstReceivedAt: receivedAt, lastReceivedAt: receivedAt,
                    uploadCount: 1, updateCount: 0)
                keysByBinaryName[SimReportNames.foldedCase(file.name)] = key
                if keysByDigest[file.digest] == nil { keysByDigest[file.digest] = key }
                stats.inserted += 1
                return (row(inserted: 1, skipped: 0, detail + (report == nil ? "" : " with report")), true)
            }
            stats.duplicates += 1
            event.uploadCount += 1
            event.lastReceivedAt = receivedAt
            var changes: [String] = []
            if event.binaryDigest != file.digest.hex {
                changes.append("new content for \(decoded.unitSerial) \(decoded.localTime)")
                keysByBinaryName[SimReportNames.foldedCase(event.binaryName)] = nil
                event.binaryName = file.name
                event.binaryByteCount = file.byteCount
                event.binaryDigest = file.digest.hex
                keysByBinaryName[SimReportNames.foldedCase(file.name)] = key
                if keysByDigest[file.digest] == nil { keysByDigest[file.digest] = key }
            }
            if let report, event.reportDigest != report.file.digest.hex {
                changes.append(event.report == nil ? "report attached" : "report replaced")
                event.reportName = report.file.name
                event.reportDigest = report.file.digest.hex
                event.report = report.parsed
            }
            if changes.isEmpty {
                events[key] = event
                stats.skipped += 1
                return (row(inserted: 0, skipped: 1, "already stored"), false)
            }
            event.updateCount += 1
            events[key] = event
            stats.updated += 1
            return (row(inserted: 0, skipped: 0, "updated: " + changes.joined(separator: ", ")), true)
        }

        /// A report uploaded without its binary: attached to the stored event it names, if any.
        private mutating func attachAlone(_ file: ReceivedFile, report: BlastwareReport?,
                                          request: MockImportRequest) -> (MockReplyRow, Bool) {
            guard let binaryName = SimReportNames.binary(forReport: file.name),
                  let key = keysByBinaryName[SimReportNames.foldedCase(binaryName)],
                  var event = events[key] else {
                stats.errorRows += 1
                return (MockReplyRow(filename: file.name, status: "error", filesize: Int64(file.byteCount),
                                         inserted: 0, skipped: 0,
                                         detail: "no event binary for this report in the request or the store"), false)
            }
            event.lastReceivedAt = request.receivedAt.description
            guard event.reportDigest != file.digest.hex else {
                events[key] = event
                return (MockReplyRow(filename: file.name, status: "ok", filesize: Int64(file.byteCount),
                                         inserted: 0, skipped: 1, detail: "report already stored"), false)
            }
            event.reportName = file.name
            event.reportDigest = file.digest.hex
            event.report = report
            event.updateCount += 1
            events[key] = event
            stats.updated += 1
            return (MockReplyRow(filename: file.name, status: "ok", filesize: Int64(file.byteCount),
                                     inserted: 0, skipped: 0, detail: "updated: report attached to \(event.binaryName)"), true)
        }

        static func kindName(_ kind: SimEventName.Kind) -> String {
            switch kind {
            case .waveform: return "waveform"
            case .histogram: return "histogram"
            case .manual: return "manual"
            case .other: return "unrecognised"
            }
        }
    }
}

/// Which report in an upload belongs to which binary, by name and without regard to case.
///
/// The ACH name `<stem>_<ext>_ASCII.TXT` wins over `<binary>.TXT` when both are present
/// (domain.md §1); a report matching no binary in the upload is left for the store to place.
struct ReportPairing {
    /// Binary index → index of the report chosen for it.
    var reportIndexByBinary: [Int: Int] = [:]
    /// Report index → index of the binary it names (chosen or not).
    var binaryIndexByReport: [Int: Int] = [:]

    init(_ files: [ReceivedFile]) {
        var reportIndexByName: [String: Int] = [:]
        for (index, file) in files.enumerated() where file.role == .report {
            reportIndexByName[SimReportNames.foldedCase(file.name)] = index
        }
        guard !reportIndexByName.isEmpty else { return }
        for (index, file) in files.enumerated() where file.role != .report {
            for candidate in SimReportNames.candidates(forBinary: file.name) {
                guard let reportIndex = reportIndexByName[SimReportNames.foldedCase(candidate)] else { continue }
                binaryIndexByReport[reportIndex] = index
                if reportIndexByBinary[index] == nil { reportIndexByBinary[index] = reportIndex }
            }
        }
    }
}
