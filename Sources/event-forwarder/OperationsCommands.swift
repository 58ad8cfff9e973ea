import ArgumentParser
import ForwarderCore
import ForwarderIO
import Foundation

extension EventForwarderCommand {
    struct Version: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The version, the commit when the build was stamped, the Swift compiler and the OS.")
        @Flag(help: "Print JSON instead of text.") var json = false

        func run() throws {
            let report = VersionReport.current()
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                report.lines.forEach { print($0) }
            }
        }
    }

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show every effective setting and where it came from, then check the folder, state, CA file and server.",
            discussion: "Changes nothing: the state is loaded read-only and never created. Exit 0 when every "
                + "check passes, 2 with every problem listed otherwise. --check-server sends an empty POST "
                + "to the import endpoint (TLS verified, token sent); any HTTP answer counts, except "
                + "401/403/407 (credentials refused) and 404 (no import endpoint at SFM_URL).")
        @OptionGroup var options: SettingsOptions
        @Flag(help: "Also check that the server answers over HTTP(S).") var checkServer = false

        func run() async throws {
            let report = await SettingsValidator.validate(
                configPath: options.config, environment: ProcessInfo.processInfo.environment,
                flags: options.flagValues, checkServer: checkServer)
            report.lines.forEach { print($0) }
            if !report.problems.isEmpty { throw ExitCode(2) }
        }
    }

    struct SampleConfigCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sample-config",
            abstract: "Print a commented config.ini with every key at its default.")
        @Option(name: .customLong("set"), help: ArgumentHelp("Write KEY = VALUE uncommented (repeatable).",
                                                             valueName: "KEY=VALUE"))
        var assignments: [String] = []

        func run() throws {
            var values: [SettingsResolver.Key: String] = [:]
            for assignment in assignments {
                let parts = assignment.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2,
                      let key = SettingsResolver.Key(rawValue: parts[0].trimmingCharacters(in: .whitespaces).uppercased()) else {
                    let known = SettingsResolver.Key.allCases.map(\.rawValue).joined(separator: ", ")
                    throw ValidationError("invalid --set \"\(assignment)\": expected KEY=VALUE with KEY one of \(known)")
                }
                values[key] = parts[1].trimmingCharacters(in: .whitespaces)
            }
            print(SampleConfig.text(version: ForwarderBuildInfo.version, values: values), terminator: "")
        }
    }
}
