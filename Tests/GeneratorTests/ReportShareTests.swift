import ForwarderCore
import ForwarderSimulation
import Testing

@Suite struct ReportShareTests {
    typealias Support = GeneratorTestSupport

    @Test("Reports: naming, missing and late shares match the profile over thousands of events")
    func shares() throws {
        let profile = FolderProfile.mixed
        let plan = FolderPlanner.plan(Support.options(seed: 51, profile: profile, events: 6000))
        let count = Double(plan.events.count)
        func share(_ naming: ReportNaming) -> Double { Double(plan.events.filter { $0.reportNaming == naming }.count) / count }

        #expect(share(.none) > 0.001 && share(.none) < 0.012)
        #expect(abs(share(.binaryTxt) - profile.binaryTxtReportShare) < 0.01)
        #expect(abs(share(.both) - profile.bothReportNamesShare) < 0.01)

        let achDelays = plan.events.compactMap { event in event.achReportTime.map { $0 - event.binaryFinish } }
        let lateShare = Double(achDelays.filter { $0 >= profile.reportLongTailDelay.lowerBound }.count) / Double(achDelays.count)
        #expect(abs(lateShare - profile.reportLongTailShare) < 0.015)
        for delay in achDelays {
            #expect(profile.reportDelay.contains(delay) || profile.reportLongTailDelay.contains(delay))
        }
        for event in plan.events {
            #expect(event.reportFiles.allSatisfy { $0.time > event.binaryFinish })
            #expect(profile.binaryWriteDuration.contains(event.binaryFinish - event.downloadStart))
        }
    }

    @Test("Reports: both namings write the ACH report first and the manual export later")
    func bothNamings() {
        let plan = FolderPlanner.plan(Support.options(seed: 52, events: 3000))
        let both = plan.events.filter { $0.reportNaming == .both }
        #expect(!both.isEmpty)
        for event in both {
            #expect(event.reportFiles.map(\.name) == EventFileRules.reportNames(forBinary: event.binaryFileName.uppercased())
                .map { event.isLowercased ? $0.lowercased() : $0 })
            #expect(event.reportFiles[0].time < event.reportFiles[1].time)
            #expect(event.preferredReport?.name == event.achReportFileName)
        }
    }

    @Test("Profiles: events per unit per day scales the rates", arguments: [2.0, 40.0])
    func eventsPerUnitPerDay(rate: Double) {
        var options = Support.options(seed: 55, profile: .blastMonitoring, units: 10, days: 20)
        options.eventsPerUnitPerDay = rate
        let plan = FolderPlanner.plan(options)
        let measured = Double(plan.events.count) / 200
        #expect(abs(measured - rate) < rate * 0.2, "measured \(measured) a day")
    }

    @Test("Profiles: a stuck trigger calls every 30–60 s; an idle unit only touches its monitor log")
    func profiles() {
        let stuck = FolderPlanner.plan(Support.options(seed: 53, profile: .stuckTrigger, units: 1, days: 1))
        #expect(stuck.events.count > 100)
        for (earlier, later) in zip(stuck.events, stuck.events.dropFirst()) {
            let gap = later.name.secondsSince1985 - earlier.name.secondsSince1985
            if gap < 3600 { #expect(gap >= 30 && gap <= 61, "gap \(gap)") }
        }
        let idle = FolderPlanner.plan(Support.options(seed: 54, profile: .idle, units: 2, days: 5))
        #expect(idle.events.isEmpty)
        #expect(idle.monitorLogSessions.count >= 8)
    }
}
