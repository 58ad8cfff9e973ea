import ArgumentParser
import ForwarderCore
import ForwarderIO
import Foundation
import Logging

/// `event-forwarder`: forwards Blastware ACH events to an SFM server, exactly once.
@main
struct EventForwarderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "event-forwarder",
        abstract: "Forward Blastware Auto Call Home events to an SFM server, exactly once.",
        discussion: "Settings come from --config (series3-watcher's config.ini keys), then environment "
            + "variables of the same names, then flags; later sources win. Exit codes: 0 done, "
            + "1 a pass or upload failed, 2 a setting, an argument or the state file is unusable, "
            + "3 the state could not be written (disk full, read-only or failing).",
        version: ForwarderBuildInfo.versionLine,
        subcommands: [Run.self, Once.self, SeedState.self, Status.self, Retry.self, Validate.self, Version.self,
                      SampleConfigCommand.self]
    )

    /// Runs the chosen command; usage errors exit 2 like bad settings, not ArgumentParser's 64.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code != .success {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            } else {
                print(fullMessage(for: error))
            }
            Foundation.exit(code == .validationFailure ? 2 : code.rawValue)
        }
    }
}

/// Flags shared by every command; each maps onto a config key so one validator checks them all.
struct SettingsOptions: ParsableArguments {
    @Option(help: "series3-watcher config.ini to read (SERIES3_PATH, SFM_URL, SFM_* keys).")
    var config: String?
    @Option(help: "The Blastware ACH folder (SERIES3_PATH).")
    var watch: String?
    @Option(help: "The state file (SFM_STATE_FILE); a series3-watcher sfm_forwarded.json is imported in place.")
    var state: String?
    @Option(help: "The SFM server's base URL (SFM_URL); giving it enables forwarding for this run.")
    var url: String?
    @Option(help: "Ignore binaries modified longer ago than this many days (MAX_EVENT_AGE_DAYS, default 365).")
    var maxAgeDays: String?
    @Option(help: "What dates an event for the age window: mtime or name, the time in the Blastware file name (SFM_EVENT_AGE_SOURCE, default mtime).")
    var eventAgeSource: String?
    @Option(help: "Seconds a file must be unmodified before it is read (SFM_QUIESCENCE_SECONDS, default 5).")
    var quiescenceSeconds: String?
    @Option(help: "Seconds to wait for a report before sending a binary alone (SFM_MISSING_REPORT_GRACE_SECONDS, default 60).")
    var reportGraceSeconds: String?
    @Option(help: "Uploads per pass, 0 for unlimited (SFM_MAX_FORWARDS_PER_PASS, default 500).")
    var maxForwardsPerPass: String?
    @Option(help: "Per-request timeout in seconds (SFM_HTTP_TIMEOUT_SECONDS, default 60).")
    var timeoutSeconds: String?
    @Option(help: "Seconds between passes for `run` (SFM_FORWARD_INTERVAL_SECONDS, default 60).")
    var intervalSeconds: String?
    @Option(help: "Value of the ?serial= hint sent with every upload (SFM_SERIAL_HINT).")
    var serialHint: String?
    @Option(help: "Log format: text or json (SFM_LOG_FORMAT, default text).")
    var logFormat: String?
    @Option(help: "Uploads in flight at once (SFM_UPLOAD_CONCURRENCY, default 4).")
    var uploadConcurrency: String?
    @Option(help: "Learn the uploads in flight from the server's answers, up to --upload-concurrency: true or false (SFM_ADAPTIVE_CONCURRENCY, default true).")
    var adaptiveConcurrency: String?
    @Option(help: "Backoff ceiling after a first failed upload, doubling per failure (SFM_RETRY_BASE_SECONDS, default 30).")
    var retryBaseSeconds: String?
    @Option(help: "Largest backoff ceiling (SFM_RETRY_MAX_SECONDS, default 3600).")
    var retryMaxSeconds: String?
    @Option(help: "Refusals after which an event is quarantined (SFM_QUARANTINE_AFTER_REJECTIONS, default 5).")
    var quarantineAfterRejections: String?
    @Option(help: "Failed uploads in a row that stop a pass until a probe succeeds (SFM_CIRCUIT_BREAKER_FAILURES, default 5).")
    var circuitBreakerFailures: String?
    @Option(help: "PEM certificate authorities to trust for an https server (SFM_CA_FILE); SFM_API_TOKEN has no flag.")
    var caFile: String?
    @Option(help: "HOST:PORT where `run` serves /metrics and /health, e.g. 127.0.0.1:9464 (SFM_METRICS_ADDRESS, default off).")
    var metricsAddress: String?

    var flagValues: [(key: SettingsResolver.Key, flag: String, value: String)] {
        let pairs: [(SettingsResolver.Key, String, String?)] = [
            (.watchFolder, "--watch", watch), (.statePath, "--state", state), (.serverURL, "--url", url),
            (.forwardingEnabled, "--url", url.map { _ in "true" }),
            (.maximumEventAgeDays, "--max-age-days", maxAgeDays),
            (.eventAgeSource, "--event-age-source", eventAgeSource),
            (.quiescenceSeconds, "--quiescence-seconds", quiescenceSeconds),
            (.reportGraceSeconds, "--report-grace-seconds", reportGraceSeconds),
            (.forwardsPerPassLimit, "--max-forwards-per-pass", maxForwardsPerPass),
            (.requestTimeoutSeconds, "--timeout-seconds", timeoutSeconds),
            (.passIntervalSeconds, "--interval-seconds", intervalSeconds),
            (.serialHint, "--serial-hint", serialHint), (.logFormat, "--log-format", logFormat),
            (.uploadConcurrency, "--upload-concurrency", uploadConcurrency),
            (.adaptiveConcurrency, "--adaptive-concurrency", adaptiveConcurrency),
            (.retryBaseSeconds, "--retry-base-seconds", retryBaseSeconds),
            (.retryMaximumSeconds, "--retry-max-seconds", retryMaxSeconds),
            (.quarantineAfterRejections, "--quarantine-after-rejections", quarantineAfterRejections),
            (.circuitBreakerFailures, "--circuit-breaker-failures", circuitBreakerFailures),
            (.certificateAuthorityFile, "--ca-file", caFile),
            (.metricsAddress, "--metrics-address", metricsAddress),
        ]
        return pairs.compactMap { key, flag, value in value.map { (key, flag, $0) } }
    }

    /// Resolves settings and a logger, or exits 2 with a message naming the bad key and value.
    func resolve() throws -> (ForwarderSettings, Logger) {
        let settings: ForwarderSettings
        do {
            settings = try SettingsLoader.load(configPath: config, environment: ProcessInfo.processInfo.environment,
                                               flags: flagValues)
        } catch {
            FileHandle.standardError.write(Data("event-forwarder: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let format = settings.logFormat
        LoggingSystem.bootstrap { label in
            switch format {
            case .json: return JSONLineLogHandler(label: label)
            case .text: return StreamLogHandler.standardError(label: label)
            }
        }
        return (settings, Logger(label: "event-forwarder"))
    }
}

extension SettingsOptions {
    /// Settings for a command that uploads, or nil (after saying so) when forwarding is off.
    func resolveForForwarding() throws -> (ForwarderSettings, Logger)? {
        let (settings, logger) = try resolve()
        guard settings.forwardingEnabled else {
            logger.notice("forwarding is disabled (SFM_FORWARD_ENABLED is false and no --url given); nothing to do")
            return nil
        }
        return (settings, logger)
    }
}

/// Runs a service call, turning a damaged state or settings problem into exit code 2.
func exitingOnFatalErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as ExitCode {
        throw error
    } catch let error as StateNotWrittenError {
        FileHandle.standardError.write(Data("event-forwarder: \(error)\n".utf8))
        throw ExitCode(StateNotWrittenError.exitCode)
    } catch {
        FileHandle.standardError.write(Data("event-forwarder: \(error)\n".utf8))
        let isFatal = error is StateFileError || error is ServiceError || error is UploaderSetupError
            || error is MetricsServerError
        throw ExitCode(isFatal ? 2 : 1)
    }
}

extension EventForwarderCommand {
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Forward continuously: a pass every interval until SIGINT or SIGTERM.")
        @OptionGroup var options: SettingsOptions
        @Flag(help: "Plan and hash, but upload and record nothing.") var dryRun = false

        func run() async throws {
            guard let (settings, logger) = try options.resolveForForwarding() else { return }
            try await exitingOnFatalErrors {
                try await ForwarderService(settings: settings, logger: logger)
                    .run(dryRun: dryRun, stopsOnTerminationSignals: true)
            }
        }
    }

    struct Once: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One pass, then exit: 0 when every upload was accepted, 1 when one failed, 3 when the state could not be written.")
        @OptionGroup var options: SettingsOptions
        @Flag(help: "Plan and hash, but upload and record nothing.") var dryRun = false

        func run() async throws {
            guard let (settings, logger) = try options.resolveForForwarding() else { return }
            let report = try await exitingOnFatalErrors {
                try await ForwarderService(settings: settings, logger: logger).runOnce(dryRun: dryRun)
            }
            print(report.summary)
            if report.errors > 0 { throw ExitCode(1) }
        }
    }

    struct SeedState: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "seed-state",
            abstract: "Mark every in-window event binary as forwarded without uploading (first deploy).")
        @OptionGroup var options: SettingsOptions

        func run() async throws {
            let (settings, logger) = try options.resolve()
            print("[seed] watch_dir = \(settings.watchFolder)")
            print("[seed] state = \(settings.statePath)")
            print("[seed] max_age = \(settings.policy.maximumEventAge.components.seconds / 86_400) days")
            let progress = ProgressLine(label: "[seed]")
            let startedAt = Date()
            let report = try await exitingOnFatalErrors {
                try await ForwarderService(settings: settings, logger: logger).seedState { done, total in
                    progress.update(done: done, total: total)
                }
            }
            let seconds = Date().timeIntervalSince(startedAt)
            print("[seed] done. \(report.summary) hashed_bytes=\(report.hashedBytes) seconds="
                + String(format: "%.2f", seconds))
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "State counts, the last pass and the backlog; safe beside a running forwarder.")
        @OptionGroup var options: SettingsOptions
        @Flag(help: "Print JSON instead of text.") var json = false

        func run() async throws {
            let (settings, logger) = try options.resolve()
            let status = try await exitingOnFatalErrors {
                try ForwarderService(settings: settings, logger: logger).status()
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(String(decoding: try encoder.encode(status), as: UTF8.self))
                return
            }
            print("state:            \(status.statePath)")
            print("watch folder:     \(status.watchFolder)")
            print("forwarding:       \(status.forwardingEnabled ? "enabled" : "disabled")")
            print("recorded events:  \(status.recordedEvents) (\(status.recordedWithoutReport) without report)")
            if let lastPass = status.lastPass {
                print("last pass:        \(lastPass.finishedAt): \(lastPass.summary)")
                if let problem = lastPass.stateUnwritable { print("state unwritable: \(problem)") }
            } else {
                print("last pass:        none recorded")
            }
            if let backlog = status.backlog {
                print("backlog:          \(backlog) ready to upload")
                for (reason, count) in (status.waiting ?? [:]).sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                    print("  \(reason.rawValue): \(count)")
                }
            }
            if let problem = status.folderProblem { print("folder problem:   \(problem)") }
            print("quarantined:      \(status.quarantined.count)"
                + (status.quarantined.isEmpty ? "" : " (release with `event-forwarder retry NAME…` or `--all`)"))
            for event in status.quarantined.prefix(50) {
                print("  \(event.fileName): \(event.rejections) refusals, last at \(event.lastAttemptAt): \(event.lastError)")
            }
            print("backing off:      \(status.backingOff.count)")
            for event in status.backingOff.prefix(50) {
                print("  \(event.fileName): \(event.failures) failed, next attempt \(event.nextAttemptAt): \(event.lastError)")
            }
            let hidden = max(0, status.quarantined.count - 50) + max(0, status.backingOff.count - 50)
            if hidden > 0 { print("  … \(hidden) more in `status --json`") }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Release quarantined or backing-off events so the next pass uploads them.",
            discussion: "Works beside a running forwarder: the release is then applied before its next pass.")
        @OptionGroup var options: SettingsOptions
        @Flag(help: "Release every quarantined and backing-off event.") var all = false
        @Argument(help: "Event binary names, as `status` lists them.") var names: [String] = []

        func validate() throws {
            if all == !names.isEmpty {
                throw ValidationError("give event names or --all, not both and not neither")
            }
        }

        func run() async throws {
            let (settings, logger) = try options.resolve()
            let result = try await exitingOnFatalErrors {
                try ForwarderService(settings: settings, logger: logger).release(all ? .all : .names(names))
            }
            let when = result.appliedNow ? "the next pass uploads it" : "the running forwarder applies this before its next pass"
            for name in result.outcome.released { print("released \(name): \(when)") }
            for name in result.outcome.notWaiting { print("not waiting: \(name) is neither quarantined nor backing off") }
            if all, result.outcome.released.isEmpty { print("nothing is quarantined or backing off") }
            if !result.outcome.notWaiting.isEmpty { throw ExitCode(1) }
        }
    }
}
