import ForwarderCore
import Foundation

/// What `event-forwarder validate` found: every effective setting with its source, then each check.
public struct ValidationReport: Sendable {
    /// One key as a run would see it; `shownValue` is nil when the key has no value at all.
    public struct Setting: Hashable, Sendable {
        public var key: SettingsResolver.Key
        public var shownValue: String?
        public var source: String
    }

    /// One thing checked: a problem makes `validate` exit 2.
    public struct Check: Hashable, Sendable {
        public var subject: String
        public var isProblem: Bool
        public var detail: String
    }

    public var settings: [Setting]
    public var checks: [Check]

    public var problems: [Check] { checks.filter(\.isProblem) }

    /// The settings as a table, then one line per check, then the verdict.
    public var lines: [String] {
        let keyWidth = settings.map(\.key.rawValue.count).max() ?? 0
        var lines = ["settings (value, then where it came from):"]
        for setting in settings {
            let key = setting.key.rawValue.padding(toLength: keyWidth, withPad: " ", startingAt: 0)
            lines.append("  \(key) = \(setting.shownValue ?? "(not set)")    [\(setting.source)]")
        }
        lines.append("checks:")
        for check in checks {
            lines.append("  \(check.isProblem ? "PROBLEM" : "ok     ") \(check.subject): \(check.detail)")
        }
        let count = problems.count
        lines.append(count == 0 ? "valid: no problems found"
                                : "invalid: \(count) problem\(count == 1 ? "" : "s") found")
        return lines
    }
}

/// Checks a configuration without changing anything: the settings resolve, the folder lists, the
/// state loads read-only, the CA file parses, and (when asked) the server answers.
///
/// Every check runs even when an earlier one failed, so one `validate` lists every problem.
public enum SettingsValidator {
    public static func validate(configPath: String?, environment: [String: String],
                                flags: [(key: SettingsResolver.Key, flag: String, value: String)],
                                checkServer: Bool) async -> ValidationReport {
        var checks: [ValidationReport.Check] = []
        func note(_ subject: String, _ detail: String) { checks.append(.init(subject: subject, isProblem: false, detail: detail)) }
        func problem(_ subject: String, _ detail: String) { checks.append(.init(subject: subject, isProblem: true, detail: detail)) }

        var layers: [SettingsLayer] = []
        if let configPath {
            do {
                let layer = try SettingsLoader.configLayer(configPath)
                layers.append(layer)
                note("config file", "\(configPath) read (\(layer.values.count) keys)")
            } catch {
                problem("config file", "\(error)")
            }
        }
        layers += SettingsLoader.otherLayers(environment: environment, flags: flags)
        let defaultStatePath = SettingsLoader.defaultStatePath(configPath: configPath)
        let effective = SettingsResolver.effectiveValues(layers, defaultStatePath: defaultStatePath)
        let settingRows = SettingsResolver.Key.allCases.map { key in
            ValidationReport.Setting(key: key, shownValue: effective[key]?.shown(for: key),
                                     source: effective[key]?.source ?? "default")
        }

        var settings: ForwarderSettings?
        switch SettingsResolver.resolveCollectingProblems(layers, defaultStatePath: defaultStatePath) {
        case .success(let resolved):
            settings = resolved
            note("settings", resolved.forwardingEnabled ? "every value is valid"
                 : "every value is valid; forwarding is disabled, so `run` and `once` will upload nothing")
        case .failure(let problems):
            for error in problems.errors { problem("setting \(error.key)", error.description) }
        }

        let watchFolder = settings?.watchFolder ?? effective[.watchFolder]?.value ?? ""
        if let detail = listingProblem(watchFolder) { problem("watch folder", detail) } else {
            let count = entryCount(watchFolder)
            note("watch folder", "\(watchFolder) can be listed (\(count) \(count == 1 ? "entry" : "entries"))")
        }

        let statePath = settings?.statePath ?? effective[.statePath]?.value ?? ""
        for check in stateChecks(statePath) { checks.append(check) }

        let certificateFile = settings?.certificateAuthorityFile ?? effective[.certificateAuthorityFile]?.value
        if let certificateFile, !certificateFile.trimmingCharacters(in: .whitespaces).isEmpty {
            do {
                let certificates = try HTTPEventUploader.certificateAuthorities(inFile: certificateFile)
                note("CA file", "\(certificateFile) holds \(certificates.count) certificate\(certificates.count == 1 ? "" : "s")")
            } catch {
                problem("CA file", "\(error)")
            }
        }

        if checkServer { checks.append(await serverCheck(settings)) }
        return ValidationReport(settings: settingRows, checks: checks)
    }

    /// Why the folder cannot be listed, or nil when it can.
    static func listingProblem(_ path: String) -> String? {
        guard !path.isEmpty else { return "not checked: SERIES3_PATH is empty" }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            return "\(path) does not exist (SERIES3_PATH)"
        }
        guard isFolder.boolValue else { return "\(path) is a file, not a folder (SERIES3_PATH)" }
        do { _ = try LocalEventFolder(path: path).listEntries() } catch {
            return "cannot list \(path): \(error)"
        }
        return nil
    }

    static func entryCount(_ path: String) -> Int {
        (try? LocalEventFolder(path: path).listEntries().count) ?? 0
    }

    /// The state loads read-only (or does not exist yet) and its folder is writable by this user.
    static func stateChecks(_ path: String) -> [ValidationReport.Check] {
        var checks: [ValidationReport.Check] = []
        guard !path.isEmpty else {
            return [.init(subject: "state", isProblem: true, detail: "not checked: SFM_STATE_FILE is empty")]
        }
        let journalPath = path + ".journal"
        let exists = FileManager.default.fileExists(atPath: path) || FileManager.default.fileExists(atPath: journalPath)
        do {
            let store = try FileStateStore(path: path, readOnly: true)
            let detail: String
            if !exists {
                detail = "\(path) does not exist yet; it will be created"
            } else if store.loadSummary.importedVersionOneRecords > 0 {
                detail = "\(path) is a series3-watcher version-1 state with \(store.count) events; "
                    + "the first run converts it in place (keeping \(path).v1-backup)"
            } else {
                detail = "\(path) loads: \(store.count) events recorded"
            }
            checks.append(.init(subject: "state", isProblem: false, detail: detail))
        } catch {
            checks.append(.init(subject: "state", isProblem: true, detail: "\(error)"))
            return checks
        }
        let folder = (path as NSString).deletingLastPathComponent
        let writablePaths = [folder.isEmpty ? "." : folder] + [path, journalPath].filter {
            FileManager.default.fileExists(atPath: $0)
        }
        for writable in writablePaths where !FileManager.default.isWritableFile(atPath: writable) {
            checks.append(.init(subject: "state", isProblem: true,
                                detail: "\(writable) is not writable by this user: the forwarder could not record anything"))
        }
        return checks
    }

    /// An empty POST to the import endpoint, through the uploader's own client: TLS verified, token sent.
    static func serverCheck(_ settings: ForwarderSettings?) async -> ValidationReport.Check {
        let subject = "server"
        guard let settings else {
            return .init(subject: subject, isProblem: true, detail: "not checked: the settings above do not resolve")
        }
        guard let serverURL = settings.serverURL else {
            return .init(subject: subject, isProblem: true, detail: "not checked: SFM_URL is not set")
        }
        let uploader: HTTPEventUploader
        do {
            uploader = try HTTPEventUploader(baseURL: serverURL, serialHint: settings.serialHint,
                                             requestTimeout: settings.requestTimeout, maximumConnections: 1,
                                             certificateAuthorityFile: settings.certificateAuthorityFile,
                                             bearerToken: settings.bearerToken)
        } catch {
            return .init(subject: subject, isProblem: true, detail: "not checked: \(error)")
        }
        let endpoint = ImportContract.endpoint(baseURL: serverURL, serialHint: settings.serialHint)
        let token = settings.bearerToken == nil ? "no token" : "token sent"
        let outcome = await uploader.probe()
        await uploader.shutdown()
        switch outcome {
        case .noAnswer(let detail):
            return .init(subject: subject, isProblem: true, detail: "no answer from \(endpoint): \(detail)")
        case .answered(let status):
            let answered = "answered HTTP \(status) to an empty POST to \(endpoint) (\(token))"
            switch status {
            case 401, 403, 407:
                return .init(subject: subject, isProblem: true,
                             detail: answered + ": it refuses the credentials; check SFM_API_TOKEN")
            case 404:
                return .init(subject: subject, isProblem: true,
                             detail: answered + ": no import endpoint there; SFM_URL should be the server's base URL")
            default:
                return .init(subject: subject, isProblem: false, detail: answered)
            }
        }
    }
}
