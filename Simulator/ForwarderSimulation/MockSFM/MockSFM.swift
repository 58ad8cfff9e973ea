import ForwarderCore
import Foundation
import Synchronization

/// The mock SFM server's behaviour without a socket: an import request in, a reply out.
///
/// The in-process simulation calls `handleImport` directly and the Hummingbird server calls the
/// same method, so both see one implementation of parsing, pairing, upserting, journaling and
/// fault injection. Parsing and hashing happen outside the lock; only the store, journal and
/// counters are updated under it, each in O(1) per file.
public final class MockSFM: Sendable {
    /// Limits and defaults that do not change while the mock runs.
    public struct Configuration: Sendable {
        /// Bodies larger than this are refused with 413.
        public var maximumBodyByteCount: Int
        /// How many journal entries are kept; older ones are dropped first.
        public var journalCapacity: Int
        /// Seeds the fault plan when the plan has no seed of its own.
        public var seed: UInt64
        /// Keep each stored report's raw text (as the SFM does). Long simulations may turn this
        /// off: at ~15 KB per report the raw text is most of the store's memory.
        public var retainsReportText: Bool
        /// How much the server does at once and what it answers beyond that; nil: unlimited,
        /// every request served at once.
        public var capacity: CapacityPlan?

        public init(maximumBodyByteCount: Int = 64 << 20, journalCapacity: Int = 100_000, seed: UInt64 = 0,
                    retainsReportText: Bool = true, capacity: CapacityPlan? = nil) {
            self.maximumBodyByteCount = maximumBodyByteCount
            self.journalCapacity = journalCapacity
            self.seed = seed
            self.retainsReportText = retainsReportText
            self.capacity = capacity
        }
    }

    public let configuration: Configuration
    let state: Mutex<State>

    /// Creates a mock with an empty store and `faultPlan` installed at `planInstalledAt`
    /// (nil: at the first request).
    public init(configuration: Configuration = Configuration(), faultPlan: FaultPlan = .none,
                planInstalledAt: FileTime? = nil) {
        self.configuration = configuration
        state = Mutex(State(configuration: configuration, plan: faultPlan, installedAt: planInstalledAt))
    }

    // MARK: Import

    /// Handles one `POST /db/import/blastware_file`; `slot` is where `admit` placed it, for
    /// the journal's queue and service times.
    public func handleImport(_ request: MockImportRequest, slot: CapacitySlot? = nil) -> MockExchange {
        handleImport(request, slot: slot) { () throws(MockRejection) in
            try UploadReader.read(contentType: request.contentType, body: request.body)
        }
    }

    /// Handles the request the production forwarder would send for `request`, taking its files
    /// as they are instead of parsing the multipart body they would travel in.
    public func handleImport(_ request: ImportRequest, receivedAt: FileTime, slot: CapacitySlot? = nil) -> MockExchange {
        handleImport(MockImportRequest(request, receivedAt: receivedAt), slot: slot) { () throws(MockRejection) in
            try UploadReader.read(request)
        }
    }

    private func handleImport(_ request: MockImportRequest, slot: CapacitySlot?,
                              readFiles: () throws(MockRejection) -> [ReceivedFile]) -> MockExchange {
        let files: Result<[ReceivedFile], MockRejection>
        if request.body.readableBytes > configuration.maximumBodyByteCount {
            files = .failure(Self.oversized(request.body.readableBytes, limit: configuration.maximumBodyByteCount))
        } else {
            do throws(MockRejection) {
                files = .success(try readFiles())
            } catch {
                files = .failure(error)
            }
        }
        let reports = parseReports(in: (try? files.get()) ?? [])
        let (exchange, rowsToEncode) = state.withLock { state in
            state.handle(request, files: files, reports: reports, bodyByteCount: request.body.readableBytes, slot: slot)
        }
        return Self.finish(exchange, rows: rowsToEncode)
    }

    /// Records and answers a request whose body was not read because it exceeds the limit.
    ///
    /// The socket server calls this when the declared or streamed length passes the limit, so
    /// that it never buffers a huge body just to refuse it.
    public func rejectOversizedBody(receivedAt: FileTime, serialHint: String?, contentType: String?,
                                    byteCount: Int) -> MockExchange {
        let rejection = Self.oversized(byteCount, limit: configuration.maximumBodyByteCount)
        let request = MockImportRequest(receivedAt: receivedAt, serialHint: serialHint, contentType: contentType,
                                        body: Data())
        let (exchange, rows) = state.withLock { state in
            state.handle(request, files: .failure(rejection), reports: [:], bodyByteCount: byteCount, slot: nil)
        }
        return Self.finish(exchange, rows: rows)
    }

    // MARK: Inspection and control

    /// Every stored event, ordered by serial and event time.
    public func events() -> [StoredEvent] {
        state.withLock { state in state.events.sorted { $0.key < $1.key }.map(\.value) }
    }

    /// The stored event for one serial and event time.
    public func event(for key: EventKey) -> StoredEvent? {
        state.withLock { $0.events[key] }
    }

    /// The stored event whose binary has this name (any case).
    public func event(named binaryName: String) -> StoredEvent? {
        guard let name = SimEventName(parsing: binaryName) else { return nil }
        return event(for: EventKey(name))
    }

    public var eventCount: Int { state.withLock { $0.events.count } }

    /// Journal entries after sequence number `sequence` (0: from the oldest kept), at most `limit`.
    public func journal(after sequence: Int = 0, limit: Int = .max) -> [JournalEntry] {
        state.withLock { $0.journal.entries(after: sequence, limit: limit) }
    }

    /// The counters, with the capacity model's as of the latest time it has seen.
    public func stats() -> MockStats {
        state.withLock { state in
            var stats = state.stats
            stats.events = state.events.count
            stats.capacity = state.capacity?.stats
            return stats
        }
    }

    public var faultPlan: FaultPlan { state.withLock { $0.injector.plan } }

    /// Installs `plan` in place of the current one; request numbers and time windows restart
    /// from `installedAt` (nil: from the next request). The store and journal are kept.
    public func replaceFaultPlan(_ plan: FaultPlan, installedAt: FileTime?) {
        state.withLock { state in state.install(plan, at: installedAt) }
    }

    /// Empties the store, journal and counters, restarts the current plan's random streams, and
    /// empties the capacity model's schedule and series (keeping its plan).
    public func reset(at time: FileTime?) {
        state.withLock { state in
            let capacityPlan = state.capacity?.plan
            state = State(configuration: configuration, plan: state.injector.plan, installedAt: time)
            state.capacity = capacityPlan.map { CapacityModel(plan: $0) }
        }
    }

    // MARK: Helpers

    private static func oversized(_ byteCount: Int, limit: Int) -> MockRejection {
        MockRejection(status: 413, detail: "body of \(byteCount) bytes exceeds the limit of \(limit) bytes")
    }

    /// Parses every report in the upload, outside the lock.
    private func parseReports(in files: [ReceivedFile]) -> [Int: BlastwareReport] {
        var reports: [Int: BlastwareReport] = [:]
        for (index, file) in files.enumerated() where file.role == .report {
            var report = BlastwareReport(parsing: file.contents)
            if !configuration.retainsReportText { report.rawText = "" }
            reports[index] = report
        }
        return reports
    }

    /// Encodes the 200 reply body outside the lock, where the exchange asked for one.
    private static func finish(_ exchange: MockExchange, rows: [MockReplyRow]?) -> MockExchange {
        guard let rows, case .respond(var response) = exchange.reply else { return exchange }
        var exchange = exchange
        response.body = MockContract.replyBody(rows)
        exchange.reply = .respond(response)
        return exchange
    }

    static func detailBody(_ detail: String) -> Data {
        (try? JSONEncoder().encode(["detail": detail])) ?? Data("{}".utf8)
    }
}
