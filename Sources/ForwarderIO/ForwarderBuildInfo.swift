import CBuildStamp
import Foundation

/// What this build of the forwarder is, for `--version`, `version` and the metrics' build-info gauge.
///
/// The version follows the Python forwarder it replaces (v1.5.2): this port is 2.x.
public enum ForwarderBuildInfo {
    /// The release version, bumped by hand when a release is cut.
    public static let version = "2.0.0"

    /// The commit stamped by `scripts/package` (`FORWARDER_BUILD_COMMIT`), nil for a plain build.
    public static var commit: String? {
        let stamped = String(cString: forwarder_build_commit())
        return stamped.isEmpty ? nil : stamped
    }

    /// The version with the commit when known, e.g. `2.0.0 (3f2a9c1d0b7e)`: what `--version` prints.
    public static var versionLine: String {
        commit.map { "\(version) (\($0))" } ?? version
    }

    /// The Swift compiler that built this binary, to the minor version (the compiler offers no more).
    public static var swiftCompilerVersion: String {
        #if compiler(>=6.5)
        return "6.5 or later"
        #elseif compiler(>=6.4)
        return "6.4"
        #elseif compiler(>=6.3)
        return "6.3"
        #elseif compiler(>=6.2)
        return "6.2"
        #elseif compiler(>=6.1)
        return "6.1"
        #else
        return "6.0"
        #endif
    }
}

/// The operating system the forwarder runs on, for `version` and bug reports.
public struct OperatingSystemInfo: Codable, Hashable, Sendable {
    /// The distribution or system name, e.g. `Debian GNU/Linux 12 (bookworm)` or `Windows`.
    public var name: String
    /// The kernel release on Linux and macOS, the OS version on Windows.
    public var version: String
    /// The machine's architecture, e.g. `x86_64` or `aarch64`.
    public var architecture: String

    /// Reads `/etc/os-release` and `uname` where they exist, `ProcessInfo` elsewhere.
    public static func current() -> OperatingSystemInfo {
        #if os(Linux) || os(macOS)
        var system = utsname()
        uname(&system)
        func text<T>(_ field: T) -> String {
            withUnsafeBytes(of: field) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
        }
        return OperatingSystemInfo(name: osReleasePrettyName() ?? text(system.sysname), version: text(system.release),
                                   architecture: text(system.machine))
        #else
        let version = ProcessInfo.processInfo.operatingSystemVersion
        #if arch(x86_64)
        let architecture = "x86_64"
        #elseif arch(arm64)
        let architecture = "arm64"
        #else
        let architecture = "unknown"
        #endif
        return OperatingSystemInfo(name: "Windows",
                                   version: "\(version.majorVersion).\(version.minorVersion).\(version.patchVersion)",
                                   architecture: architecture)
        #endif
    }

    /// `PRETTY_NAME` from `/etc/os-release`, the distribution's own name for itself.
    private static func osReleasePrettyName() -> String? {
        guard let text = try? String(contentsOfFile: "/etc/os-release", encoding: .utf8) else { return nil }
        for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix("PRETTY_NAME=") {
            let value = line.dropFirst("PRETTY_NAME=".count)
            return String(value.trimmingCharacters(in: CharacterSet(charactersIn: "\"'")))
        }
        return nil
    }
}

/// Everything `event-forwarder version --json` prints.
public struct VersionReport: Codable, Hashable, Sendable {
    public var version: String
    /// Absent when the build was not stamped.
    public var commit: String?
    public var swift: String
    public var os: OperatingSystemInfo

    public static func current() -> VersionReport {
        VersionReport(version: ForwarderBuildInfo.version, commit: ForwarderBuildInfo.commit,
                      swift: ForwarderBuildInfo.swiftCompilerVersion, os: .current())
    }

    /// The text form, one `name: value` line each.
    public var lines: [String] {
        ["version:  \(version)", "commit:   \(commit ?? "unknown (not a packaged build)")", "swift:    \(swift)",
         "os:       \(os.name), \(os.version), \(os.architecture)"]
    }
}
