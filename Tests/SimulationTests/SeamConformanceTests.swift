import ForwarderCore
import ForwarderIO
import ForwarderSimulation
import Foundation
import MockSFMServer
import Testing

/// The same contract, run against the real and the simulated implementation of each seam, so
/// the simulator cannot drift from what production does.
@Suite("Seam conformance")
struct SeamConformanceTests {
    enum World: String, CaseIterable, Sendable { case real, simulated }

    /// A folder of either world, with the writes the contract needs.
    final class FolderUnderTest: @unchecked Sendable {
        let folder: any EventFolder
        private let root: String?
        private let simulated: SimEventFolder?

        init(_ world: World) throws {
            switch world {
            case .real:
                let root = FileManager.default.temporaryDirectory.appendingPathComponent("seam-\(UUID().uuidString)").path
                try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
                self.root = root
                simulated = nil
                folder = LocalEventFolder(path: root)
            case .simulated:
                let simulated = SimEventFolder()
                self.simulated = simulated
                root = nil
                folder = simulated
            }
        }

        deinit { if let root { try? FileManager.default.removeItem(atPath: root) } }

        func write(_ name: String, _ contents: Data, modified: FileTime) throws {
            if let simulated {
                simulated.create(name, contents: contents, modificationTime: modified)
            } else if let root {
                let path = (root as NSString).appendingPathComponent(name)
                try contents.write(to: URL(fileURLWithPath: path))
                try FileManager.default.setAttributes([.modificationDate: modified.date], ofItemAtPath: path)
            }
        }

        func makeDirectory(_ name: String, modified: FileTime) throws {
            if let simulated {
                simulated.createDirectory(name, modificationTime: modified)
            } else if let root {
                try FileManager.default.createDirectory(atPath: (root as NSString).appendingPathComponent(name),
                                                        withIntermediateDirectories: true)
            }
        }
    }

    @Test("Seams: folders list names, kinds, sizes and times, and read bytes, alike", arguments: World.allCases)
    func folderContract(world: World) throws {
        let subject = try FolderUnderTest(world)
        let modified = FileTime(secondsSince1970: 1_780_000_000, nanoseconds: 250_000_000)
        try subject.write("N844L20G.630H", Data([1, 2, 3, 4]), modified: modified)
        try subject.write("N844L20G_630H_ASCII.TXT", Data("report".utf8), modified: modified + .seconds(2))
        try subject.makeDirectory("Archive", modified: modified)
        try subject.write("Archive/M529LK44.N00", Data([9]), modified: modified)
        let entries = Dictionary(uniqueKeysWithValues: try subject.folder.listEntries().map { ($0.name, $0) })
        #expect(Set(entries.keys) == ["N844L20G.630H", "N844L20G_630H_ASCII.TXT", "Archive"])
        #expect(entries["N844L20G.630H"]?.kind == .regularFile)
        #expect(entries["N844L20G.630H"]?.byteCount == 4)
        #expect(entries["Archive"]?.kind == .directory)
        let seen = try #require(entries["N844L20G_630H_ASCII.TXT"]?.modificationTime)
        #expect(abs((seen - (modified + .seconds(2))).secondsValue) < 0.001)
        #expect(entries["N844L20G.630H"]?.identity != entries["N844L20G_630H_ASCII.TXT"]?.identity)
        #expect(try subject.folder.readContents(of: "N844L20G.630H") == Data([1, 2, 3, 4]))
        #expect {
            try subject.folder.readContents(of: "T190LD5Q.LK0W")
        } throws: { error in
            (error as? FolderError)?.kind == .fileMissing
        }
    }

    func record(_ index: Int, hadReport: Bool) -> ForwardRecord {
        ForwardRecord(digest: EventDigest(of: [UInt8(index)]), fileName: "N844L20G.63\(index)H", byteCount: Int64(index),
                      hadReport: hadReport, forwardedAt: FileTime(nanosecondsSince1970: Int64(index)),
                      fingerprint: FileFingerprint(byteCount: Int64(index), modificationTime: FileTime(nanosecondsSince1970: 7),
                                                   identity: nil))
    }

    @Test("Seams: state stores record, look up, replace and keep what was synced, alike", arguments: World.allCases)
    func stateContract(world: World) throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("seam-state-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let path = (root as NSString).appendingPathComponent("state")
        let simulated = SimStateStore()
        let store: any ForwardStateStore = world == .real ? try FileStateStore(path: path) : simulated
        for index in 1...3 { try store.record(record(index, hadReport: false)) }
        try store.record(record(2, hadReport: true))
        #expect(store.count == 3)
        #expect(store.record(for: record(2, hadReport: true).digest)?.hadReport == true)
        #expect(store.record(for: EventDigest(of: [99])) == nil)
        try store.sync()
        let reopened: any ForwardStateStore
        if let fileStore = store as? FileStateStore {
            try fileStore.close()
            reopened = try FileStateStore(path: path)
        } else {
            simulated.crash()
            reopened = simulated
        }
        #expect(Set(reopened.allRecords()) == Set([record(1, hadReport: false), record(2, hadReport: true), record(3, hadReport: false)]))
    }

    static let faultCases: [(String, Fault)] = [
        ("none", .delay(.fixed(.zero))), ("reset", .connectionReset), ("close", .closeWithoutResponse),
        ("503", .httpStatus(code: 503, retryAfterSeconds: 7)), ("400", .httpStatus(code: 400, retryAfterSeconds: nil)),
        ("html", .nonJSONBody), ("no-row", .missingRow), ("error-row", .fileErrorRow(detail: "bad")),
        ("hang", .noAnswer(maximum: .seconds(1200))), ("garbage", .garbageThenClose(byteCount: 64)),
    ]

    @Test("Seams: the HTTP uploader over a socket and the simulated uploader classify every fault alike",
          arguments: faultCases.map(\.0))
    func uploaderContract(faultName: String) async throws {
        let fault = Self.faultCases.first { $0.0 == faultName }!.1
        let plan = FaultPlan(seed: 1, rules: [FaultRule(name: faultName, fault: fault)])
        let binary = BlastwareEventName(serialNumber: 12844, secondsSince1985: 1_270_000_000, kind: .waveform)!.fileName
        let request = ImportRequest(binary: ImportRequest.File(name: binary, contents: Data((0..<512).map { UInt8($0 % 256) })),
                                    report: nil)
        // The hang must meet the client's timeout; every other fault must be answered before it,
        // however loaded the machine, so its timeout is one no answer should ever need.
        let timeout = faultName == "hang" ? Duration.seconds(8) : Duration.seconds(600)

        let server = try await MockSFMServer.start(configuration: MockSFM.Configuration(), faultPlan: plan)
        let http = try HTTPEventUploader(baseURL: server.baseURL, serialHint: nil, requestTimeout: timeout)
        let real = await http.upload(request)
        await http.shutdown()
        try await server.shutdown()

        let clock = SimClock(start: FileTime(Date()))
        let simulatedUploader = SimUploader(mock: MockSFM(faultPlan: plan, planInstalledAt: clock.now()), clock: clock,
                                            requestTimeout: timeout)
        let simulated = await simulatedUploader.upload(request)
        #expect(Self.shape(real) == Self.shape(simulated), "real: \(real)\nsimulated: \(simulated)")
    }

    /// The outcome's class and problem kind, without free-text details that differ by transport.
    static func shape(_ outcome: UploadOutcome) -> String {
        switch outcome {
        case .accepted: return "accepted"
        case .rejected(let problem): return "rejected \(problem.kind) \(problem.retryAfter.map { "\($0)" } ?? "")"
        case .failed(let problem):
            // A socket closed mid-reply may surface as a transport error or, for garbage, a
            // parse error; both are retryable transport failures to the forwarder.
            return "failed \(problem.kind == .timeout ? "timeout" : problem.kind == .transport ? "transport" : "\(problem.kind)") "
                + (problem.retryAfter.map { "\($0)" } ?? "")
        }
    }

    @Test("Seams: clocks never run backwards and sleeping moves them forward", arguments: World.allCases)
    func clockContract(world: World) async throws {
        let clock: any ForwarderClock = world == .real ? SystemClock() : SimClock(start: FileTime(Date()))
        let before = clock.now()
        try await clock.sleep(for: .milliseconds(20))
        let after = clock.now()
        #expect(after - before >= .milliseconds(19))
    }
}
