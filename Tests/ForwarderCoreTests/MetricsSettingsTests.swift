import ForwarderCore
import Testing

@Suite("Metrics settings")
struct MetricsSettingsTests {
    @Test("Config: metrics are off by default")
    func offByDefault() throws {
        #expect(try SettingsResolver.resolve([]).metricsAddress == nil)
        let blank = SettingsLayer(source: "config.ini", values: ["SFM_METRICS_ADDRESS": "  "])
        #expect(try SettingsResolver.resolve([blank]).metricsAddress == nil)
    }

    @Test("Config: SFM_METRICS_ADDRESS takes IPv4, bracketed IPv6 and localhost with a port from 0 to 65535",
          arguments: [("127.0.0.1:9464", "127.0.0.1", 9464), ("0.0.0.0:0", "0.0.0.0", 0),
                      ("255.255.255.255:65535", "255.255.255.255", 65535), ("[::1]:9464", "::1", 9464),
                      ("[::]:80", "::", 80), ("[fe80::1:2]:1", "fe80::1:2", 1),
                      ("[2001:db8:0:0:0:0:0:1]:9", "2001:db8:0:0:0:0:0:1", 9),
                      ("[::ffff:192.0.2.1]:9", "::ffff:192.0.2.1", 9), ("LocalHost:9464", "localhost", 9464)])
    func goodAddresses(text: String, host: String, port: Int) throws {
        let settings = try SettingsResolver.resolve([SettingsLayer(source: "--metrics-address",
                                                                   values: ["SFM_METRICS_ADDRESS": text])])
        #expect(settings.metricsAddress == MetricsAddress(host: host, port: port))
    }

    @Test("Config: an IPv6 address prints in brackets, so it reads back the same")
    func description() {
        #expect(MetricsAddress(host: "::1", port: 9464).description == "[::1]:9464")
        #expect(MetricsAddress(host: "127.0.0.1", port: 9464).description == "127.0.0.1:9464")
        #expect(MetricsAddress(parsing: MetricsAddress(host: "fe80::1", port: 5).description) == MetricsAddress(host: "fe80::1", port: 5))
    }

    @Test("Config: a bad SFM_METRICS_ADDRESS names the key, the value and its source",
          arguments: ["127.0.0.1", "127.0.0.1:", ":9464", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:http",
                      "256.0.0.1:9464", "1.2.3:9464", "01.2.3.4:9464", "1.2.3.4.5:9464", "example.com:9464",
                      "::1:9464", "[::1]", "[::1]9464", "[1:2:3:4:5:6:7:8:9]:1", "[1::2::3]:1", "[12345::]:1",
                      "[fe80::1%eth0]:1", "[1.2.3.4]:1", "127.0.0.1:٩٤٦٤", "[::g]:1"])
    func badAddresses(text: String) {
        #expect {
            try SettingsResolver.resolve([SettingsLayer(source: "config.ini", values: ["SFM_METRICS_ADDRESS": text + "x"]),
                                          SettingsLayer(source: "--metrics-address", values: ["SFM_METRICS_ADDRESS": text])])
        } throws: { error in
            guard let error = error as? SettingsError else { return false }
            return error.key == "SFM_METRICS_ADDRESS" && error.value == text && error.source == "--metrics-address"
                && error.description.contains("HOST:PORT")
        }
    }
}
