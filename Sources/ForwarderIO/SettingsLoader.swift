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
        if let configPath { layers.append(try configLayer(configPath)) }
        layers += otherLayers(environment: environment, flags: flags)
        return try SettingsResolver.resolve(layers, defaultStatePath: defaultStatePath(configPath: configPath))
    }

    /// The values of a config file, named by its path.
    public static func configLayer(_ configPath: String) throws -> SettingsLayer {
        let text = try readConfigText(configPath)
        return SettingsLayer(source: configPath, values: try IniFile.parse(text, path: configPath))
    }

    /// The environment's and the flags' values, in that order (flags win).
    public static func otherLayers(environment: [String: String],
                                   flags: [(key: SettingsResolver.Key, flag: String, value: String)]) -> [SettingsLayer] {
        var layers: [SettingsLayer] = []
        let known = Set(SettingsResolver.Key.allCases.map(\.rawValue))
        let environmentValues = environment.filter { known.contains($0.key) }
        if !environmentValues.isEmpty {
            layers.append(SettingsLayer(source: "environment", values: environmentValues))
        }
        for flag in flags {
            layers.append(SettingsLayer(source: flag.flag, values: [flag.key.rawValue: flag.value]))
        }
        return layers
    }

    /// The state's path when no setting names one: beside the config file, else nil (the
    /// resolver's default, in the working folder).
    public static func defaultStatePath(configPath: String?) -> String? {
        guard let configPath else { return nil }
        let folder = (configPath as NSString).deletingLastPathComponent
        return folder.isEmpty ? defaultStateFileName : (folder as NSString).appendingPathComponent(defaultStateFileName)
    }

    /// The text of a config file, as UTF-8 or else as Windows-1252.
    ///
    /// series3-watcher's Python reads `config.ini` in the Windows locale's code page, so a file
    /// with an accented folder name in Windows-1252 is valid there and must be valid here; the
    /// error says whether the file is missing, a folder, or unreadable.
    static func readConfigText(_ configPath: String) throws -> String {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: configPath, isDirectory: &isFolder) else {
            throw ConfigFileError(path: configPath, detail: "it does not exist")
        }
        guard !isFolder.boolValue else { throw ConfigFileError(path: configPath, detail: "it is a folder, not a file") }
        let bytes: Data
        do { bytes = try Data(contentsOf: URL(fileURLWithPath: configPath)) } catch {
            throw ConfigFileError(path: configPath, detail: "cannot read it (\(error.localizedDescription))")
        }
        guard let text = String(data: bytes, encoding: .utf8) ?? String(data: bytes, encoding: .windowsCP1252) else {
            throw ConfigFileError(path: configPath, detail: "it is neither UTF-8 nor Windows-1252 text")
        }
        return text
    }
}

/// A config file that cannot be read at all.
public struct ConfigFileError: Error, CustomStringConvertible {
    public var path: String
    public var detail: String

    public var description: String { "config file \(path): \(detail)" }
}
