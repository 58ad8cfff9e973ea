import ForwarderCore
import Testing

@Suite("Settings sources")
struct SettingsSourcesTests {
    @Test("Config: each effective value names the layer that set it, later layers winning; the token is shown redacted")
    func effectiveValuesNameTheirSource() {
        let file = SettingsLayer(source: "/etc/f/config.ini", values: ["sfm_url": "http://a", "SFM_API_TOKEN": "t0k3n", "OTHER": "x"])
        let environment = SettingsLayer(source: "environment", values: ["SFM_URL": "http://b"])
        let values = SettingsResolver.effectiveValues([file, environment], defaultStatePath: "/etc/f/sfm_forward.state")
        #expect(values[.serverURL] == EffectiveValue(value: "http://b", source: "environment"))
        #expect(values[.statePath] == EffectiveValue(value: "/etc/f/sfm_forward.state", source: "default"))
        #expect(values[.passIntervalSeconds] == EffectiveValue(value: "60", source: "default"))
        #expect(values[.serialHint] == nil)
        #expect(values[.bearerToken]?.source == "/etc/f/config.ini")
        #expect(values[.bearerToken]?.shown(for: .bearerToken) == "<redacted>")
        #expect(values[.serverURL]?.shown(for: .serverURL) == "http://b")
        #expect(values.count == SettingsResolver.Key.allCases.filter { $0.defaultValue != nil }.count + 2)
    }

    @Test("Config: every bad value is collected, not just the first; good layers still resolve")
    func everyProblemCollected() throws {
        let layer = SettingsLayer(source: "config.ini", values: [
            "SFM_LOG_FORMAT": "xml", "SFM_UPLOAD_CONCURRENCY": "0", "SFM_URL": "ftp://x", "SFM_FORWARD_INTERVAL_SECONDS": "-1"])
        let problems = try #require(failure(SettingsResolver.resolveCollectingProblems([layer])))
        #expect(Set(problems.map(\.key)) == ["SFM_LOG_FORMAT", "SFM_UPLOAD_CONCURRENCY", "SFM_URL", "SFM_FORWARD_INTERVAL_SECONDS"])
        #expect(problems.allSatisfy { $0.source == "config.ini" })

        let good = SettingsLayer(source: "config.ini", values: ["SFM_URL": "http://sfm.local"])
        guard case .success(let settings) = SettingsResolver.resolveCollectingProblems([good]) else {
            Issue.record("a good layer must resolve")
            return
        }
        #expect(settings == (try SettingsResolver.resolve([good])))
    }

    @Test("Config: a rule between two keys is reported once and ends the search")
    func crossKeyRuleEndsSearch() throws {
        let layer = SettingsLayer(source: "environment", values: ["SFM_RETRY_BASE_SECONDS": "7200", "SFM_RETRY_MAX_SECONDS": "60"])
        let problems = try #require(failure(SettingsResolver.resolveCollectingProblems([layer])))
        #expect(problems.map(\.key) == ["SFM_RETRY_MAX_SECONDS"])
        #expect(problems.first?.value == "60")
    }

    func failure(_ result: Result<ForwarderSettings, SettingsProblems>) -> [SettingsError]? {
        if case .failure(let problems) = result { return problems.errors }
        return nil
    }
}
