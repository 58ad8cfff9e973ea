import ForwarderCore
import ForwarderSimulation
import Testing

@Suite struct EventNameTests {
    typealias Support = GeneratorTestSupport

    @Test("Names: every generated name decodes to the serial, time and kind it was made from",
          arguments: FolderProfile.presets.map(\.name).filter { $0 != "idle" })
    func roundTrip(profileName: String) throws {
        let profile = try #require(FolderProfile.preset(named: profileName))
        let plan = FolderPlanner.plan(Support.options(seed: 21, profile: profile, events: 1500))
        #expect(!plan.events.isEmpty)
        for event in plan.events {
            let decoded = try #require(BlastwareEventName(parsing: event.binaryFileName), "\(event.binaryFileName)")
            #expect(decoded.serialNumber == event.name.serialNumber)
            #expect(decoded.secondsSince1985 == event.name.secondsSince1985)
            #expect("\(decoded.kind)" == "\(event.name.kind)")
            #expect(EventFileRules.isEventBinary(event.binaryFileName))
            #expect(event.name.unitSerial.wholeMatch(of: /BE\d{4,5}/) != nil)
        }
    }

    @Test("Names: no unit has two events in one second")
    func noCollisions() {
        let plan = FolderPlanner.plan(Support.options(seed: 22, profile: .stuckTrigger, events: 4000))
        var seen = Set<String>()
        for event in plan.events {
            #expect(seen.insert("\(event.name.serialNumber)/\(event.name.secondsSince1985)").inserted)
        }
    }

    @Test("Names: waveform, histogram and manual kinds, 1995 resets and lower case all occur")
    func variety() throws {
        var profile = FolderProfile.mixed
        profile.clockResetDayShare = 0.05
        let plan = FolderPlanner.plan(Support.options(seed: 23, profile: profile, events: 4000))
        let kinds = plan.events.map(\.name.kind)
        #expect(kinds.contains(.waveform))
        #expect(kinds.contains(.histogram))
        let manualShare = Double(kinds.filter { $0 == .manual }.count) / Double(kinds.count)
        #expect(abs(manualShare - profile.manualDownloadShare) < 0.015)
        #expect(plan.events.filter { $0.name.fileExtension.count == 3 }.count == kinds.filter { $0 == .manual }.count)

        let reset = plan.events.filter { $0.name.localTime.year == 1995 }
        #expect(!reset.isEmpty)
        for event in reset { #expect(BlastwareEventName(parsing: event.binaryFileName)?.localTime.year == 1995) }

        let lowercased = plan.events.filter(\.isLowercased)
        #expect(!lowercased.isEmpty)
        #expect(lowercased.allSatisfy { $0.binaryFileName == $0.binaryFileName.lowercased() })
    }

    @Test("Names: event times follow the site clock plus each unit's skew")
    func eventTimesMatchDownloads() {
        let plan = FolderPlanner.plan(Support.options(seed: 24, profile: .blastMonitoring, events: 500))
        for event in plan.events where event.name.localTime.year != 1995 {
            let downloadSeconds = Int(event.downloadStart.nanosecondsSince1970 / 1_000_000_000) - 473_385_600
            let skewSeconds = Int(plan.unit(of: event).clockSkew.wholeNanoseconds / 1_000_000_000)
            let lag = downloadSeconds + skewSeconds - event.name.secondsSince1985
            // The recording ends, then the call-in waits; downloads may queue behind earlier ones.
            #expect(lag >= 0 && lag < 6 * 3600, "\(event.binaryFileName) lag \(lag)")
        }
    }
}
