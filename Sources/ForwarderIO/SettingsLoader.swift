import ForwarderCore
import Foundation

/// Builds settings from a config file, the environment and command-line values, in that order
/// of precedence (flags win).
public enum SettingsLoader {
    /// The file name of the state when no setting names one: beside the config file if there
    /// is one, else in the working folder.
    public static let defaultStateFileName = "sfm_forward.state"

    /// - Parameters:
    ///   - configPath: an INI file in series3-watcher's format, or nil.
    ///   - environment: process environment; only documented keys are read.
    ///   - flags: command-line values by config key, each with the flag that set it.
    public static func load(configPath: String?, environment: [String: String],
                            flags: [(key: SettingsResolver.Key, flag: String, value: String)]) throws -> ForwarderSettings {
        var layers: [SettingsLayer] = []
        var defaultStatePath: String?
        if let configPath {
            let text: String
            do { text = try String(contentsOfFile: configPath, encoding: .utf8) } catch {
                throw ConfigFileError(path: configPath, detail: "cannot read it (\(error.localizedDescription))")
            }
            layers.append(SettingsLayer(source: configPath, values: try IniFile.parse(text, path: configPath)))
            let folder = (configPath as NSString).deletingLastPathComponent
            defaultStatePath = folder.isEmpty ? defaultStateFileName
                : (folder as NSString).appendingPathComponent(defaultStateFileName)
        }
        let known = Set(SettingsResolver.Key.allCases.map(\.rawValue))
        let environmentValues = environment.filter { known.contains($0.key) }
        if !environmentValues.isEmpty {
            layers.append(SettingsLayer(source: "environment", values: environmentValues))
        }
        for flag in flags {
            layers.append(SettingsLayer(source: flag.flag, values: [flag.key.rawValue: flag.value]))
        }
        return try SettingsResolver.resolve(layers, defaultStatePath: defaultStatePath)
    }
}

/// A config file that cannot be read at all.
public struct ConfigFileError: Error, CustomStringConvertible {
    public var path: String
    public var detail: String

    public var description: String { "config file \(path): \(detail)" }
}
