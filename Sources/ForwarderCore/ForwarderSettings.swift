import Foundation

/// Everything a forwarder run is configured with, after config file, environment and flags.
public struct ForwarderSettings: Hashable, Sendable {
    public enum LogFormat: String, Hashable, Sendable, CaseIterable {
        case text
        case json
    }

    public var watchFolder: String
    public var forwardingEnabled: Bool
    public var serverURL: String?
    public var passInterval: Duration
    public var policy: ScanPolicy
    public var requestTimeout: Duration
    public var statePath: String
    public var serialHint: String?
    public var logFormat: LogFormat
    /// Uploads in flight at once on kept-alive connections.
    public var uploadConcurrency: Int
    /// The production default of `uploadConcurrency` (`SFM_UPLOAD_CONCURRENCY`).
    public static let defaultUploadConcurrency = 4
    /// Start at one upload in flight and learn the limit, up to `uploadConcurrency`, from the
    /// server's answers; with `false`, always `uploadConcurrency` (`SFM_ADAPTIVE_CONCURRENCY`).
    public var adaptiveConcurrency: Bool
    public var retryPolicy: RetryPolicy
    /// PEM certificates trusted for an `https` server, instead of the system's roots.
    public var certificateAuthorityFile: String?
    /// Sent as `Authorization: Bearer …`; never logged or shown.
    public var bearerToken: BearerToken?
    /// Where `run` serves `/metrics` and `/health`; nil (the default) serves nothing.
    public var metricsAddress: MetricsAddress?

    public init(watchFolder: String, forwardingEnabled: Bool, serverURL: String?, passInterval: Duration,
                policy: ScanPolicy, requestTimeout: Duration, statePath: String, serialHint: String?,
                logFormat: LogFormat, uploadConcurrency: Int = defaultUploadConcurrency,
                adaptiveConcurrency: Bool = true, retryPolicy: RetryPolicy = RetryPolicy(),
                certificateAuthorityFile: String? = nil, bearerToken: BearerToken? = nil,
                metricsAddress: MetricsAddress? = nil) {
        self.metricsAddress = metricsAddress
        self.uploadConcurrency = uploadConcurrency
        self.adaptiveConcurrency = adaptiveConcurrency
        self.retryPolicy = retryPolicy
        self.certificateAuthorityFile = certificateAuthorityFile
        self.bearerToken = bearerToken
        self.watchFolder = watchFolder
        self.forwardingEnabled = forwardingEnabled
        self.serverURL = serverURL
        self.passInterval = passInterval
        self.policy = policy
        self.requestTimeout = requestTimeout
        self.statePath = statePath
        self.serialHint = serialHint
        self.logFormat = logFormat
    }
}

/// A secret that prints as `<redacted>`, so logging settings or errors cannot leak it.
public struct BearerToken: Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The token itself, for the `Authorization` header only.
    public let secret: String

    public init(_ secret: String) { self.secret = secret }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
}

/// One source of setting values, named for messages ("config.ini", "environment", "command line").
public struct SettingsLayer: Hashable, Sendable {
    public var source: String
    /// Values by upper-case key, e.g. `SFM_URL`.
    public var values: [String: String]

    public init(source: String, values: [String: String]) {
        self.source = source
        self.values = Dictionary(values.map { (EventFileRules.caseFoldedKey($0.key), $0.value) },
                                 uniquingKeysWith: { _, last in last })
    }
}

/// One key's merged value and where it came from: a config file's path, "environment", a flag
/// such as "--watch", or "default".
public struct EffectiveValue: Hashable, Sendable {
    public var value: String
    public var source: String

    public init(value: String, source: String) {
        self.value = value
        self.source = source
    }

    /// The value as it may be shown: the API token never is.
    public func shown(for key: SettingsResolver.Key) -> String {
        key == .bearerToken ? BearerToken(value).description : value
    }
}

/// Every unusable value one resolution found, in the order found.
public struct SettingsProblems: Error, Hashable, Sendable {
    public var errors: [SettingsError]
}

/// A setting value that cannot be used: the message names the key, the value and what is allowed.
public struct SettingsError: Error, Hashable, Sendable, CustomStringConvertible {
    public var key: String
    public var value: String
    public var source: String
    public var allowed: String

    public var description: String {
        "invalid \(key)=\"\(value)\" (from \(source)): expected \(allowed)"
    }
}

/// Merges setting layers (later layers win) and validates every value.
///
/// The keys are series3-watcher's `config.ini` keys, so an existing watcher configuration works
/// unchanged; flags are mapped onto the same keys, which keeps one validation path for all.
public enum SettingsResolver {
    /// The documented keys with their defaults, in README order.
    public enum Key: String, CaseIterable, Sendable {
        case watchFolder = "SERIES3_PATH"
        case forwardingEnabled = "SFM_FORWARD_ENABLED"
        case serverURL = "SFM_URL"
        case passIntervalSeconds = "SFM_FORWARD_INTERVAL_SECONDS"
        case forwardsPerPassLimit = "SFM_MAX_FORWARDS_PER_PASS"
        case maximumEventAgeDays = "MAX_EVENT_AGE_DAYS"
        case eventAgeSource = "SFM_EVENT_AGE_SOURCE"
        case quiescenceSeconds = "SFM_QUIESCENCE_SECONDS"
        case reportGraceSeconds = "SFM_MISSING_REPORT_GRACE_SECONDS"
        case requestTimeoutSeconds = "SFM_HTTP_TIMEOUT_SECONDS"
        case statePath = "SFM_STATE_FILE"
        case serialHint = "SFM_SERIAL_HINT"
        case logFormat = "SFM_LOG_FORMAT"
        case uploadConcurrency = "SFM_UPLOAD_CONCURRENCY"
        case adaptiveConcurrency = "SFM_ADAPTIVE_CONCURRENCY"
        case retryBaseSeconds = "SFM_RETRY_BASE_SECONDS"
        case retryMaximumSeconds = "SFM_RETRY_MAX_SECONDS"
        case quarantineAfterRejections = "SFM_QUARANTINE_AFTER_REJECTIONS"
        case circuitBreakerFailures = "SFM_CIRCUIT_BREAKER_FAILURES"
        case certificateAuthorityFile = "SFM_CA_FILE"
        case bearerToken = "SFM_API_TOKEN"
        case metricsAddress = "SFM_METRICS_ADDRESS"

        public var defaultValue: String? {
            switch self {
            case .watchFolder: return #"C:\Blastware 10\Event\autocall home"#
            case .forwardingEnabled: return "false"
            case .serverURL: return nil
            case .passIntervalSeconds: return "60"
            case .forwardsPerPassLimit: return "500"
            case .maximumEventAgeDays: return "365"
            case .eventAgeSource: return EventAgeSource.modificationTime.rawValue
            case .quiescenceSeconds: return "5"
            case .reportGraceSeconds: return "60"
            case .requestTimeoutSeconds: return "60"
            case .statePath: return "sfm_forward.state"
            case .serialHint: return nil
            case .logFormat: return "text"
            case .uploadConcurrency: return "\(ForwarderSettings.defaultUploadConcurrency)"
            case .adaptiveConcurrency: return "true"
            case .retryBaseSeconds: return "30"
            case .retryMaximumSeconds: return "3600"
            case .quarantineAfterRejections: return "5"
            case .circuitBreakerFailures: return "5"
            case .certificateAuthorityFile, .bearerToken, .metricsAddress: return nil
            }
        }
    }

    /// Resolves the layers, lowest precedence first.
    ///
    /// - Parameter defaultStatePath: where the state lives when no layer names it (next to the
    ///   config file when there is one).
    public static func resolve(_ layers: [SettingsLayer], defaultStatePath: String? = nil) throws -> ForwarderSettings {
        let merged = effectiveValues(layers, defaultStatePath: defaultStatePath)
        func raw(_ key: Key) -> EffectiveValue? { merged[key] }
        func text(_ key: Key) -> String? {
            guard let entry = raw(key) else { return nil }
            let trimmed = entry.value.trimmingCharacters(in: .whitespaces)
            return trimmed.isEmpty ? nil : trimmed
        }
        func seconds(_ key: Key, minimum: Double, allowZero: Bool) throws -> Duration {
            let entry = raw(key)!
            let allowed = allowZero ? "a number of seconds, 0 or more" : "a number of seconds greater than 0"
            guard let value = Double(entry.value.trimmingCharacters(in: .whitespaces)), value.isFinite,
                  allowZero ? value >= minimum : value > minimum, value <= 31_536_000 else {
                throw SettingsError(key: key.rawValue, value: entry.value, source: entry.source, allowed: allowed)
            }
            return .nanoseconds(Int64((value * 1e9).rounded()))
        }
        func integer(_ key: Key, range: ClosedRange<Int>, allowed: String) throws -> Int {
            let entry = raw(key)!
            guard let value = Int(entry.value.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
                throw SettingsError(key: key.rawValue, value: entry.value, source: entry.source, allowed: allowed)
            }
            return value
        }

        let enabledEntry = raw(.forwardingEnabled)!
        guard let enabled = parseBoolean(enabledEntry.value) else {
            throw SettingsError(key: Key.forwardingEnabled.rawValue, value: enabledEntry.value,
                                source: enabledEntry.source, allowed: "true or false (also yes/no, on/off, 1/0)")
        }
        let serverURL = text(.serverURL)
        if let serverURL, !isUsableServerURL(serverURL) {
            let entry = raw(.serverURL)!
            throw SettingsError(key: Key.serverURL.rawValue, value: entry.value, source: entry.source,
                                allowed: "an http:// or https:// URL with a host, e.g. http://sfm.local:8200")
        }
        let formatEntry = raw(.logFormat)!
        guard let logFormat = ForwarderSettings.LogFormat(rawValue: formatEntry.value.lowercased()) else {
            throw SettingsError(key: Key.logFormat.rawValue, value: formatEntry.value, source: formatEntry.source,
                                allowed: "text or json")
        }
        let limit = try integer(.forwardsPerPassLimit, range: 0...10_000_000, allowed: "a whole number, 0 for unlimited")
        let concurrency = try integer(.uploadConcurrency, range: 1...64, allowed: "a whole number from 1 to 64")
        let adaptiveEntry = raw(.adaptiveConcurrency)!
        guard let adaptive = parseBoolean(adaptiveEntry.value) else {
            throw SettingsError(key: Key.adaptiveConcurrency.rawValue, value: adaptiveEntry.value,
                                source: adaptiveEntry.source, allowed: "true or false (also yes/no, on/off, 1/0)")
        }
        let ageDays = try integer(.maximumEventAgeDays, range: 1...36_500, allowed: "a whole number of days from 1 to 36500")
        guard let watchFolder = text(.watchFolder) else {
            throw SettingsError(key: Key.watchFolder.rawValue, value: raw(.watchFolder)?.value ?? "",
                                source: raw(.watchFolder)?.source ?? "default", allowed: "the path of the ACH folder")
        }
        guard let statePath = text(.statePath) else {
            throw SettingsError(key: Key.statePath.rawValue, value: raw(.statePath)?.value ?? "",
                                source: raw(.statePath)?.source ?? "default", allowed: "a file path")
        }
        let retryBase = try seconds(.retryBaseSeconds, minimum: 0, allowZero: false)
        let retryMaximum = try seconds(.retryMaximumSeconds, minimum: 0, allowZero: false)
        guard retryMaximum >= retryBase else {
            let entry = raw(.retryMaximumSeconds)!
            throw SettingsError(key: Key.retryMaximumSeconds.rawValue, value: entry.value, source: entry.source,
                                allowed: "at least \(Key.retryBaseSeconds.rawValue) (\(raw(.retryBaseSeconds)!.value))")
        }
        let retryPolicy = RetryPolicy(
            baseDelay: retryBase, maximumDelay: retryMaximum,
            quarantineAfterRejections: try integer(.quarantineAfterRejections, range: 1...1_000,
                                                   allowed: "a whole number from 1 to 1000"),
            circuitBreakerFailures: try integer(.circuitBreakerFailures, range: 1...1_000,
                                                allowed: "a whole number from 1 to 1000"))
        let token = text(.bearerToken)
        if let token, token.contains(where: { $0.isWhitespace || $0.isNewline }) || !token.allSatisfy(\.isASCII) {
            // The value is a secret: the message describes it instead of repeating it.
            throw SettingsError(key: Key.bearerToken.rawValue, value: "<\(token.count) characters, not shown>",
                                source: raw(.bearerToken)!.source,
                                allowed: "a token of printable ASCII without spaces")
        }
        var metricsAddress: MetricsAddress?
        if let addressText = text(.metricsAddress) {
            guard let address = MetricsAddress(parsing: addressText) else {
                let entry = raw(.metricsAddress)!
                throw SettingsError(key: Key.metricsAddress.rawValue, value: entry.value, source: entry.source,
                                    allowed: "HOST:PORT with an IPv4 address, an IPv6 address in brackets or localhost, "
                                        + "and a port from 0 to 65535, e.g. 127.0.0.1:9464 or [::1]:9464")
            }
            metricsAddress = address
        }
        let ageSourceEntry = raw(.eventAgeSource)!
        guard let ageSource = EventAgeSource(rawValue: (text(.eventAgeSource) ?? "").lowercased()) else {
            throw SettingsError(key: Key.eventAgeSource.rawValue, value: ageSourceEntry.value, source: ageSourceEntry.source,
                                allowed: "mtime or name")
        }
        let policy = ScanPolicy(
            quiescencePeriod: try seconds(.quiescenceSeconds, minimum: 0, allowZero: true),
            reportGracePeriod: try seconds(.reportGraceSeconds, minimum: 0, allowZero: true),
            maximumEventAge: .seconds(ageDays * 86_400),
            forwardsPerPassLimit: limit == 0 ? nil : limit, eventAgeSource: ageSource)
        return ForwarderSettings(
            watchFolder: watchFolder, forwardingEnabled: enabled, serverURL: serverURL,
            passInterval: try seconds(.passIntervalSeconds, minimum: 0, allowZero: false),
            policy: policy,
            requestTimeout: try seconds(.requestTimeoutSeconds, minimum: 0, allowZero: false),
            statePath: statePath, serialHint: text(.serialHint), logFormat: logFormat, uploadConcurrency: concurrency,
            adaptiveConcurrency: adaptive, retryPolicy: retryPolicy, certificateAuthorityFile: text(.certificateAuthorityFile),
            bearerToken: token.map(BearerToken.init), metricsAddress: metricsAddress)
    }

    /// Resolves the layers like `resolve`, but collects every bad value instead of the first.
    ///
    /// After each error the offending key falls back to its default and resolution runs again,
    /// so later keys are checked too; a key that fails again at its default (a rule between two
    /// keys, such as the retry ceiling below the base) ends the search, reported once.
    public static func resolveCollectingProblems(_ layers: [SettingsLayer],
                                                 defaultStatePath: String? = nil) -> Result<ForwarderSettings, SettingsProblems> {
        let defaults = effectiveValues([], defaultStatePath: defaultStatePath)
        var problems: [SettingsError] = []
        var fallback: [String: String] = [:]
        while true {
            let fallbackLayer = SettingsLayer(source: "default", values: fallback)
            do {
                let settings = try resolve(layers + [fallbackLayer], defaultStatePath: defaultStatePath)
                return problems.isEmpty ? .success(settings) : .failure(SettingsProblems(errors: problems))
            } catch let error as SettingsError {
                // A second failure of a key already at its default is the same problem again.
                guard fallback[error.key] == nil else { return .failure(SettingsProblems(errors: problems)) }
                problems.append(error)
                guard let key = Key(rawValue: error.key) else { return .failure(SettingsProblems(errors: problems)) }
                fallback[key.rawValue] = defaults[key]?.value ?? ""
            } catch {
                preconditionFailure("resolve throws only SettingsError, got \(error)")
            }
        }
    }

    /// The raw value of every key that has one, and the source that set it, after merging.
    ///
    /// `resolve` validates exactly these values, so `validate` can show what a run would use.
    public static func effectiveValues(_ layers: [SettingsLayer], defaultStatePath: String? = nil) -> [Key: EffectiveValue] {
        var merged: [Key: EffectiveValue] = [:]
        for key in Key.allCases {
            if let value = key.defaultValue { merged[key] = EffectiveValue(value: value, source: "default") }
        }
        if let defaultStatePath { merged[.statePath] = EffectiveValue(value: defaultStatePath, source: "default") }
        for layer in layers {
            for (name, value) in layer.values {
                if let key = Key(rawValue: name) { merged[key] = EffectiveValue(value: value, source: layer.source) }
            }
        }
        return merged
    }

    /// Python configparser's boolean words, which series3-watcher's config.ini uses.
    public static func parseBoolean(_ text: String) -> Bool? {
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "1", "yes", "true", "on": return true
        case "0", "no", "false", "off": return false
        default: return nil
        }
    }

    static func isUsableServerURL(_ text: String) -> Bool {
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = url.encodedHost, !host.isEmpty else { return false }
        return url.query == nil && url.fragment == nil
    }
}

/// A parse failure in an INI file, with its line number.
public struct IniFileError: Error, Hashable, Sendable, CustomStringConvertible {
    public var path: String
    public var line: Int
    public var text: String

    public init(path: String, line: Int, text: String) {
        self.path = path
        self.line = line
        self.text = text
    }

    public var description: String {
        "\(path):\(line): cannot read \(text.debugDescription): expected KEY = VALUE, a [section] or a comment"
    }
}

/// Reads series3-watcher's `config.ini` (Python configparser syntax, sections ignored).
public enum IniFile {
    /// Parses `text` into upper-case keys and their values; `=` or `:` separate them.
    public static func parse(_ text: String, path: String) throws -> [String: String] {
        var values: [String: String] = [:]
        var lineNumber = 0
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            lineNumber += 1
            var line = Substring(rawLine)
            if lineNumber == 1, line.hasPrefix("\u{FEFF}") { line = line.dropFirst() }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix(";") { continue }
            if trimmed.hasPrefix("[") && trimmed.hasSuffix("]") { continue }
            guard let separator = trimmed.firstIndex(where: { $0 == "=" || $0 == ":" }) else {
                throw IniFileError(path: path, line: lineNumber, text: trimmed)
            }
            let key = trimmed[..<separator].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty else { throw IniFileError(path: path, line: lineNumber, text: trimmed) }
            var value = trimmed[trimmed.index(after: separator)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let first = value.first, first == value.last, first == "\"" || first == "'" {
                value = String(value.dropFirst().dropLast())
            }
            values[EventFileRules.caseFoldedKey(key)] = value
        }
        return values
    }
}
