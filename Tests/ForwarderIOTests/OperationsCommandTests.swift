import ForwarderCore
import ForwarderIO
import Foundation
import Testing

/// `validate`, `version` and `sample-config` as an operator meets them: through the real executable.
@Suite("Operations commands")
struct OperationsCommandTests {
    /// A config folder with an ACH folder holding one event binary.
    func configuredFolder(_ label: String) throws -> TemporaryFolder {
        let folder = try TemporaryFolder(label)
        try FileManager.default.createDirectory(atPath: folder.file("ach"), withIntermediateDirectories: true)
        try folder.write("ach/" + eventName(0), eventBytes(0), ageSeconds: 600, now: FileTime(Date()))
        return folder
    }

    /// The value and source `validate` printed for `key`, from `  KEY = VALUE    [SOURCE]`.
    func shownSetting(_ output: String, _ key: SettingsResolver.Key) -> (value: String, source: String)? {
        for line in output.split(separator: "\n").map(String.init) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix(key.rawValue + " "), let equals = trimmed.range(of: " = "),
                  let bracket = trimmed.range(of: "    [", options: .backwards), trimmed.hasSuffix("]") else { continue }
            return (String(trimmed[equals.upperBound..<bracket.lowerBound]),
                    String(trimmed[bracket.upperBound...].dropLast()))
        }
        return nil
    }

    @Test("Validate: a good configuration exits 0, shows every key with its source, creates nothing")
    func validateGoodConfiguration() async throws {
        let folder = try configuredFolder("validate-good")
        let token = "v4l1date-TOKEN-77"
        let config = folder.file("config.ini")
        try Data("""
            [forwarder]
            SERIES3_PATH = \(folder.file("ach"))
            SFM_FORWARD_ENABLED = yes
            SFM_URL = http://127.0.0.1:9
            SFM_API_TOKEN = \(token)
            SFM_UPLOAD_CONCURRENCY = 2
            """.utf8).write(to: URL(fileURLWithPath: config))
        let result = try await runProcessOffPool(try builtProduct("event-forwarder"),
                                                 ["validate", "--config", config, "--interval-seconds", "30"],
                                                 environment: ["SFM_UPLOAD_CONCURRENCY": "7"])
        #expect(result.status == 0, "\(result.standardOutput)\(result.standardError)")
        let output = result.standardOutput
        for key in SettingsResolver.Key.allCases {
            #expect(shownSetting(output, key) != nil, "\(key.rawValue) missing from:\n\(output)")
        }
        #expect(shownSetting(output, .watchFolder).map { [$0.value, $0.source] } == [folder.file("ach"), config])
        #expect(shownSetting(output, .uploadConcurrency).map { [$0.value, $0.source] } == ["7", "environment"], "the environment beats the file")
        #expect(shownSetting(output, .passIntervalSeconds).map { [$0.value, $0.source] } == ["30", "--interval-seconds"])
        #expect(shownSetting(output, .retryBaseSeconds).map { [$0.value, $0.source] } == ["30", "default"])
        #expect(shownSetting(output, .statePath).map { [$0.value, $0.source] } == [folder.file("sfm_forward.state"), "default"])
        #expect(shownSetting(output, .serialHint).map { [$0.value, $0.source] } == ["(not set)", "default"])
        #expect(shownSetting(output, .bearerToken).map { [$0.value, $0.source] } == ["<redacted>", config])
        #expect(!(result.standardOutput + result.standardError).contains(token))
        #expect(!(result.standardOutput + result.standardError).contains("v4l1date"))
        #expect(output.contains("will be created"))
        #expect(output.contains("can be listed (1 entry)"))
        #expect(output.contains("valid: no problems found"))
        #expect(!output.contains("server:"), "the server is checked only when asked")
        let created = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(created == ["ach", "config.ini"], "validate creates no state, journal or lock")
    }

    @Test("Validate: a bad folder, a damaged state, a bad CA file and two bad values are all listed; exit 2")
    func validateListsEveryProblem() async throws {
        let folder = try TemporaryFolder("validate-bad")
        let damaged = Data("not a forwarder state\n\u{1B}junk\n".utf8)
        try damaged.write(to: URL(fileURLWithPath: folder.file("state")))
        try Data("not a certificate".utf8).write(to: URL(fileURLWithPath: folder.file("junk.pem")))
        let result = try await runProcessOffPool(try builtProduct("event-forwarder"), [
            "validate", "--watch", folder.file("no-such-folder"), "--state", folder.file("state"),
            "--ca-file", folder.file("junk.pem"), "--upload-concurrency", "0", "--log-format", "xml"])
        #expect(result.status == 2, "\(result.standardOutput)\(result.standardError)")
        let problems = result.standardOutput.split(separator: "\n").map(String.init)
            .filter { $0.trimmingCharacters(in: .whitespaces).hasPrefix("PROBLEM") }
        func listed(_ subject: String, _ detail: String) -> Bool {
            problems.contains { $0.contains(subject + ":") && $0.contains(detail) }
        }
        #expect(listed("watch folder", folder.file("no-such-folder")), "\(problems)")
        #expect(listed("state", folder.file("state")), "\(problems)")
        #expect(listed("CA file", "junk.pem"), "\(problems)")
        #expect(listed("setting SFM_UPLOAD_CONCURRENCY", "\"0\""), "\(problems)")
        #expect(listed("setting SFM_LOG_FORMAT", "\"xml\""), "\(problems)")
        #expect(problems.count == 5, "\(problems)")
        #expect(result.standardOutput.contains("invalid: 5 problems found"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder.file("state"))) == damaged, "the damaged state is left byte for byte")
        #expect(!FileManager.default.fileExists(atPath: folder.file("state.journal")))
    }

    @Test("Validate --check-server: an answering server passes with the token sent; a refused token and a closed port are problems")
    func validateChecksServer() async throws {
        let token = "srv-T0KEN-31"
        let server = try await TinyImportServer.start(requiredToken: token)
        let folder = try configuredFolder("validate-server")
        let executable = try builtProduct("event-forwarder")
        let base = ["validate", "--check-server", "--watch", folder.file("ach"), "--state", folder.file("state"),
                    "--timeout-seconds", "600"]

        let answered = try await runProcessOffPool(executable, base + ["--url", "http://127.0.0.1:\(server.port)"],
                                                   environment: ["SFM_API_TOKEN": token])
        #expect(answered.status == 0, "\(answered.standardOutput)\(answered.standardError)")
        #expect(answered.standardOutput.contains("ok      server: answered HTTP 200"), "\(answered.standardOutput)")
        #expect(answered.standardOutput.contains("/db/import/blastware_file (token sent)"))
        #expect(server.authorizations == ["Bearer \(token)"])
        #expect(server.receivedFileNames.isEmpty, "the probe carries no file")

        let refused = try await runProcessOffPool(executable, base + ["--url", "http://127.0.0.1:\(server.port)"],
                                                  environment: ["SFM_API_TOKEN": "wrong-token"])
        #expect(refused.status == 2)
        #expect(refused.standardOutput.contains("PROBLEM server: answered HTTP 401"), "\(refused.standardOutput)")
        #expect(refused.standardOutput.contains("check SFM_API_TOKEN"))
        let closedPort = server.port
        await server.shutdown()

        let closed = try await runProcessOffPool(executable, base + ["--url", "http://127.0.0.1:\(closedPort)"])
        #expect(closed.status == 2)
        #expect(closed.standardOutput.contains("PROBLEM server: no answer from http://127.0.0.1:\(closedPort)/db/import/blastware_file"),
                "\(closed.standardOutput)")
        #expect(closed.standardOutput.contains("invalid: 1 problem found"))
    }

    @Test("Version: --version prints the version line; version --json names version, Swift and OS")
    func versionOutputs() async throws {
        let executable = try builtProduct("event-forwarder")
        let short = try await runProcessOffPool(executable, ["--version"])
        #expect(short.status == 0)
        #expect(short.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == ForwarderBuildInfo.versionLine)
        #expect(ForwarderBuildInfo.versionLine.hasPrefix(ForwarderBuildInfo.version))

        let json = try await runProcessOffPool(executable, ["version", "--json"])
        #expect(json.status == 0)
        let report = try JSONDecoder().decode(VersionReport.self, from: Data(json.standardOutput.utf8))
        #expect(report.version == ForwarderBuildInfo.version)
        #expect(report.commit == ForwarderBuildInfo.commit)
        #expect(report.swift == ForwarderBuildInfo.swiftCompilerVersion)
        #expect(report.os == OperatingSystemInfo.current())
        #expect(!report.os.name.isEmpty && !report.os.version.isEmpty && !report.os.architecture.isEmpty)

        let text = try await runProcessOffPool(executable, ["version"])
        #expect(text.standardOutput.contains("version:  \(ForwarderBuildInfo.version)\n"))
        #expect(text.standardOutput.contains("os:       \(report.os.name), \(report.os.version), \(report.os.architecture)"))
    }

    @Test("Sample config: every key with its explanation and default; uncommented it resolves to the defaults")
    func sampleConfigCoversEveryKey() async throws {
        let executable = try builtProduct("event-forwarder")
        let result = try await runProcessOffPool(executable, ["sample-config", "--set", "sfm_state_file=/var/lib/forwarder/state"])
        #expect(result.status == 0, "\(result.standardError)")
        let lines = result.standardOutput.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        for key in SettingsResolver.Key.allCases {
            let explanation = try #require(SampleConfig.explanations[key], "\(key.rawValue) has no explanation")
            let line = key == .statePath ? "SFM_STATE_FILE = /var/lib/forwarder/state" : "# \(key.rawValue) = \(key.defaultValue ?? "")"
            let index = try #require(lines.firstIndex(of: line), "no `\(line)` in the sample")
            #expect(lines[index - 1] == "# " + explanation)
        }
        #expect(try IniFile.parse(result.standardOutput, path: "sample") == ["SFM_STATE_FILE": "/var/lib/forwarder/state"])

        let uncommented = lines.map { line in
            SettingsResolver.Key.allCases.contains { line.hasPrefix("# \($0.rawValue) = ") } ? String(line.dropFirst(2)) : line
        }.joined(separator: "\n")
        let values = try IniFile.parse(uncommented, path: "sample").filter { !$0.value.isEmpty }
        #expect(values.count >= SettingsResolver.Key.allCases.filter { $0.defaultValue != nil }.count)
        let fromSample = try SettingsResolver.resolve([SettingsLayer(source: "sample", values: values)])
        let fromDefaults = try SettingsResolver.resolve([SettingsLayer(source: "flag", values: ["SFM_STATE_FILE": "/var/lib/forwarder/state"])])
        #expect(fromSample == fromDefaults)

        let unknown = try await runProcessOffPool(executable, ["sample-config", "--set", "SFM_NO_SUCH_KEY=1"])
        #expect(unknown.status == 2)
        #expect(unknown.standardError.contains("SFM_NO_SUCH_KEY"))
    }
}
