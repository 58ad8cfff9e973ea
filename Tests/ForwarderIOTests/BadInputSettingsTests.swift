import ForwarderCore
@testable import ForwarderIO
import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The bad-input matrix (issue #7): settings and the command line.
// MARK: - Settings

/// A numeric setting, the boundaries it must keep, and what each boundary resolves to.
struct NumericSetting: Sendable, CustomTestStringConvertible {
    var key: SettingsResolver.Key
    var isWholeNumber: Bool
    /// The smallest value allowed and the setting it resolves to, then the first value refused below it.
    var smallest: (text: String, resolved: String)
    var belowSmallest: String
    var largest: (text: String, resolved: String)
    var aboveLargest: String
    /// The resolved setting, as text to compare with the expected boundaries.
    var resolved: @Sendable (ForwarderSettings) -> String

    var testDescription: String { key.rawValue }

    static let all: [NumericSetting] = [
        NumericSetting(key: .passIntervalSeconds, isWholeNumber: false, smallest: ("0.001", "0.001 seconds"),
                       belowSmallest: "0", largest: ("31536000", "31536000.0 seconds"), aboveLargest: "31536000.5",
                       resolved: { "\($0.passInterval)" }),
        NumericSetting(key: .forwardsPerPassLimit, isWholeNumber: true, smallest: ("0", "unlimited"), belowSmallest: "-1",
                       largest: ("10000000", "10000000"), aboveLargest: "10000001",
                       resolved: { $0.policy.forwardsPerPassLimit.map(String.init) ?? "unlimited" }),
        NumericSetting(key: .maximumEventAgeDays, isWholeNumber: true, smallest: ("1", "86400.0 seconds"), belowSmallest: "0",
                       largest: ("36500", "3153600000.0 seconds"), aboveLargest: "36501",
                       resolved: { "\($0.policy.maximumEventAge)" }),
        NumericSetting(key: .quiescenceSeconds, isWholeNumber: false, smallest: ("0", "0.0 seconds"), belowSmallest: "-0.001",
                       largest: ("31536000", "31536000.0 seconds"), aboveLargest: "31536001",
                       resolved: { "\($0.policy.quiescencePeriod)" }),
        NumericSetting(key: .reportGraceSeconds, isWholeNumber: false, smallest: ("0", "0.0 seconds"), belowSmallest: "-1",
                       largest: ("31536000", "31536000.0 seconds"), aboveLargest: "1e9",
                       resolved: { "\($0.policy.reportGracePeriod)" }),
        NumericSetting(key: .requestTimeoutSeconds, isWholeNumber: false, smallest: ("0.5", "0.5 seconds"), belowSmallest: "0",
                       largest: ("31536000", "31536000.0 seconds"), aboveLargest: "31536000.001",
                       resolved: { "\($0.requestTimeout)" }),
        NumericSetting(key: .uploadConcurrency, isWholeNumber: true, smallest: ("1", "1"), belowSmallest: "0",
                       largest: ("64", "64"), aboveLargest: "65", resolved: { "\($0.uploadConcurrency)" }),
    ]
}

extension BadInputMatrixTests {
    @Suite("Settings")
    struct Settings {
        static let configSource = #"C:\Blastware 10\series3-watcher\config.ini"#

        /// Resolves `values` as if they came from series3-watcher's config.ini.
        func resolve(_ values: [String: String]) throws -> ForwarderSettings {
            try SettingsResolver.resolve([SettingsLayer(source: Self.configSource, values: values)])
        }

        /// Expects `key = value` to be refused with a message naming the key, the value and the file.
        func expectRefused(_ key: SettingsResolver.Key, _ value: String, also: [String: String] = [:],
                           sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(sourceLocation: sourceLocation) {
                try resolve(also.merging([key.rawValue: value]) { $1 })
            } throws: { error in
                guard let error = error as? SettingsError else { return false }
                return error.key == key.rawValue && error.value == value && error.source == Self.configSource
                    && error.description.hasPrefix("invalid \(key.rawValue)=\"\(value)\" (from \(Self.configSource)): expected ")
            }
        }

        @Test("Settings: a number of the wrong type or out of any range is refused, naming key, value and file",
              arguments: NumericSetting.all, ["abc", "", "   ", "-1", "99999999999999999999", "1e400", "nan", "inf", "5 s", "0x"])
        func wrongNumber(_ setting: NumericSetting, _ value: String) {
            expectRefused(setting.key, value)
        }

        @Test("Settings: whole-number keys refuse fractions and exponents; keys in seconds take them", arguments: NumericSetting.all)
        func fractions(_ setting: NumericSetting) throws {
            for value in ["1.5", "2e1"] {
                if setting.isWholeNumber {
                    expectRefused(setting.key, value)
                } else {
                    _ = try resolve([setting.key.rawValue: value])
                }
            }
        }

        @Test("Settings: each range keeps its boundaries exactly", arguments: NumericSetting.all)
        func boundaries(_ setting: NumericSetting) throws {
            expectRefused(setting.key, setting.belowSmallest)
            expectRefused(setting.key, setting.aboveLargest)
            #expect(setting.resolved(try resolve([setting.key.rawValue: " \(setting.smallest.text) "])) == setting.smallest.resolved)
            #expect(setting.resolved(try resolve([setting.key.rawValue: setting.largest.text])) == setting.largest.resolved)
        }

        @Test("Settings: a boolean in other words is refused",
              arguments: ["maybe", "", "2", "tru", "yes please", "enabled", "ja", "-1"])
        func badBoolean(_ value: String) {
            expectRefused(.forwardingEnabled, value)
        }

        @Test("Settings: configparser's boolean words are taken in any case and spacing",
              arguments: [("TRUE", true), (" yes ", true), ("On", true), ("1", true), ("No", false), ("off", false), ("0", false)])
        func goodBoolean(_ value: String, _ expected: Bool) throws {
            #expect(try resolve([SettingsResolver.Key.forwardingEnabled.rawValue: value]).forwardingEnabled == expected)
        }

        @Test("Settings: a server URL without http(s), a host, or with a query or fragment is refused",
              arguments: ["sfm.local:8200", "sfm.local", "http://", "http:///db", "ftp://sfm.local", "file:///tmp/sfm",
                          "http://sfm.local:8200/?serial=BE12844", "http://sfm.local#top", "http://sfm local", "//sfm.local"])
        func badURL(_ value: String) {
            expectRefused(.serverURL, value)
        }

        @Test("Settings: an empty server URL means none, and usable URLs are kept as written")
        func emptyAndGoodURL() throws {
            #expect(try resolve([SettingsResolver.Key.serverURL.rawValue: "  "]).serverURL == nil)
            #expect(try resolve([SettingsResolver.Key.serverURL.rawValue: "HTTPS://sfm.local/base "]).serverURL
                        == "HTTPS://sfm.local/base")
        }

        @Test("Settings: an unknown log format is refused", arguments: ["xml", "", "texts", "json lines", "syslog"])
        func badLogFormat(_ value: String) {
            expectRefused(.logFormat, value)
        }

        @Test("Settings: an empty watch folder or state path is refused, not defaulted",
              arguments: [SettingsResolver.Key.watchFolder, .statePath])
        func emptyPath(_ key: SettingsResolver.Key) {
            expectRefused(key, " ")
        }

        @Test("Settings: a later source mends an earlier bad value; a later bad value is blamed on its own source")
        func layers() throws {
            let key = SettingsResolver.Key.uploadConcurrency.rawValue
            let mended = try SettingsResolver.resolve([SettingsLayer(source: Self.configSource, values: [key: "lots"]),
                                                       SettingsLayer(source: "environment", values: [key.lowercased(): "8"])])
            #expect(mended.uploadConcurrency == 8)
            #expect {
                try SettingsResolver.resolve([SettingsLayer(source: Self.configSource, values: [key: "8"]),
                                              SettingsLayer(source: "--upload-concurrency", values: [key: "100"])])
            } throws: { error in
                (error as? SettingsError)?.description
                    == "invalid SFM_UPLOAD_CONCURRENCY=\"100\" (from --upload-concurrency): expected a whole number from 1 to 64"
            }
        }
    }
}

/// A config file the command line must refuse, or read.
enum ConfigFileCase: String, CaseIterable, Sendable {
    case missing
    case folder
    case lineWithoutSeparator
    case binary

    func prepare(at path: String) throws {
        switch self {
        case .missing: break
        case .folder: try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        case .lineWithoutSeparator:
            try Data("[watcher]\nSFM_URL = http://127.0.0.1:9\nSFM_FORWARD_ENABLED yes\n".utf8)
                .write(to: URL(fileURLWithPath: path))
        case .binary: try Data([0x00, 0x01, 0x02, 0xFF, 0x0A]).write(to: URL(fileURLWithPath: path))
        }
    }

    /// What standard error must say after the path.
    var message: String {
        switch self {
        case .missing: return ": it does not exist"
        case .folder: return ": it is a folder, not a file"
        case .lineWithoutSeparator: return #":3: cannot read "SFM_FORWARD_ENABLED yes": expected KEY = VALUE"#
        case .binary: return #":1: cannot read "#
        }
    }
}

extension BadInputMatrixTests {
    @Suite("Command line")
    struct CommandLineInput {
        @Test("Config: an unusable config.ini exits 2 naming the file and what is wrong, and creates no state",
              arguments: ConfigFileCase.allCases)
        func unusable(_ config: ConfigFileCase) async throws {
            let folder = try TemporaryFolder("bad-config")
            let path = folder.file("config.ini")
            try config.prepare(at: path)
            let result = try await runProcessOffPool(try builtProduct("event-forwarder"), ["once", "--config", path])
            #expect(result.status == 2)
            #expect(result.standardError.contains(path + config.message), "\(result.standardError)")
            #expect(!FileManager.default.fileExists(atPath: folder.file("sfm_forward.state.journal")))
        }

        @Test("Command line: a damaged state exits 2 naming the file and the line, and is left as it was")
        func damagedState() async throws {
            let folder = try TemporaryFolder("bad-state-process")
            try FileManager.default.createDirectory(atPath: folder.file("ach"), withIntermediateDirectories: false)
            let damaged = Data(stateText(0..<1) + Array("garbage\n".utf8) + stateText(header: "", 2..<3))
            try damaged.write(to: URL(fileURLWithPath: folder.file("state")))
            let result = try await runProcessOffPool(try builtProduct("event-forwarder"),
                                        ["once", "--watch", folder.file("ach"), "--state", folder.file("state"),
                                         "--url", "http://127.0.0.1:9"])
            #expect(result.status == 2)
            #expect(result.standardError.contains("state file \(folder.file("state")): line 3 is not a valid record"),
                    "\(result.standardError)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: folder.file("state"))) == damaged)
            #expect(!FileManager.default.fileExists(atPath: folder.file("state.journal")))
        }

        @Test("Config: a config.ini in Windows-1252, as series3-watcher's Python reads it, is read with its accents")
        func windows1252() async throws {
            let folder = try TemporaryFolder("cp1252-config")
            let watch = folder.file("Données ACH")
            try FileManager.default.createDirectory(atPath: watch, withIntermediateDirectories: false)
            try folder.write("Données ACH/" + eventName(1), eventBytes(1), ageSeconds: 1000, now: FileTime(Date()))
            let config = "[watcher]\r\n; é as one byte\r\nSERIES3_PATH = \(watch)\r\nSFM_FORWARD_ENABLED = yes\r\n"
                + "SFM_URL = http://127.0.0.1:9\r\n"
            let bytes = try #require(config.data(using: .windowsCP1252))
            #expect(String(data: bytes, encoding: .utf8) == nil, "the file must not be valid UTF-8")
            try bytes.write(to: URL(fileURLWithPath: folder.file("config.ini")))
            let result = try await runProcessOffPool(try builtProduct("event-forwarder"),
                                        ["once", "--config", folder.file("config.ini"), "--dry-run"])
            #expect(result.status == 0, "\(result.standardError)")
            #expect(result.standardOutput.contains("binaries=1"), "\(result.standardOutput)")
        }
    }
}
