import Foundation
import ForwarderCore
import ForwarderSimulation
import Testing

@Suite struct NoiseTests {
    typealias Support = GeneratorTestSupport

    @Test("Noise: clutter is present, and only real events look like event binaries")
    func clutterNeverAnEvent() throws {
        var profile = FolderProfile.mixed
        profile.lowercaseNameShare = 0.02
        profile.leftoverFileShare = 0.02
        let plan = FolderPlanner.plan(Support.options(seed: 61, profile: profile, events: 2000))
        let folder = SimEventFolder()
        folder.apply(plan)
        let manifest = plan.manifest()
        let eventNames = Set(manifest.map(\.binary))
        let entries = try folder.listEntries()
        let names = entries.map(\.name)

        for entry in entries where EventFileRules.isEventBinary(entry.name) {
            #expect(eventNames.contains(entry.name), "\(entry.name) looks like an event but is not one")
        }
        for file in plan.noiseFiles { #expect(!EventFileRules.isEventBinary(file.name), "\(file.name)") }
        #expect(eventNames.isSubset(of: Set(names)))

        #expect(names.contains("Thumbs.db"))
        #expect(names.contains("desktop.ini"))
        #expect(entries.contains { $0.kind == .directory })
        #expect(entries.contains { $0.byteCount == 0 && $0.kind == .regularFile })
        for suffix in [".tmp", ".BAK", ".log", ".MLG"] {
            #expect(names.contains { $0.hasSuffix(suffix) }, "\(suffix)")
        }
        let eventLike = /[A-Z]\d{3}[A-Z0-9]{4}\.(PDF|XML|WMF|MLG)/
        #expect(names.contains { $0.wholeMatch(of: eventLike) != nil })
        #expect(names.contains { $0.hasPrefix("BE") && $0.hasSuffix(".MLG") })

        let lowercased = names.filter { $0 == $0.lowercased() && EventFileRules.isEventBinary($0) }
        #expect(!lowercased.isEmpty)
        #expect(lowercased.allSatisfy(eventNames.contains))
    }

    @Test("Noise: each unit's monitor log names its serial within the first 2 KB")
    func monitorLogs() throws {
        let plan = FolderPlanner.plan(Support.options(seed: 62, events: 800))
        let folder = SimEventFolder()
        folder.apply(plan)
        let logs = plan.finalMonitorLogs()
        #expect(!logs.isEmpty)
        for log in logs {
            let head = try folder.readContents(of: log.name).prefix(2048)
            let serial = String(log.name.dropLast(4))
            #expect(head.range(of: Data(serial.utf8)) != nil, "\(log.name)")
            #expect(head.starts(with: [0x10, 0x00, 0x01, 0x80, 0x00, 0x00]))
        }
    }

    @Test("Binaries: Series III header, STRT record, footer, and sizes by kind")
    func binaryShape() throws {
        let plan = FolderPlanner.plan(Support.options(seed: 63, events: 3000))
        let header: [UInt8] = [0x10, 0x00, 0x01, 0x80, 0x00, 0x00] + Array("Instantel".utf8) + [0x00, 0x07, 0x2C, 0x00, 0x12, 0x03, 0x00]
        for event in plan.events.prefix(300) {
            let binary = plan.binaryContents(of: event)
            #expect(binary.count == event.binaryByteCount)
            #expect(Array(binary.prefix(22)) == header)
            #expect(Array(binary[22..<26]) == Array("STRT".utf8))
        }
        let waveformSizes = plan.events.filter { $0.recording.mode == .waveform }.map(\.binaryByteCount).sorted()
        let median = waveformSizes[waveformSizes.count / 2]
        let percentile95 = waveformSizes[waveformSizes.count * 95 / 100]
        #expect(median > 8_000 && median < 12_500)
        #expect(percentile95 > 40_000 && percentile95 < 80_000)
        #expect(waveformSizes.last! <= 1 << 20)
        for event in plan.events where event.recording.mode == .histogram {
            let overhead = event.binaryByteCount - 32 * event.recording.histogramIntervalCount
            #expect(overhead >= 2048 && overhead <= 3072)
        }
    }
}
