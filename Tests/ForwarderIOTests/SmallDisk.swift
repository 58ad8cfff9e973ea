import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A tmpfs of a fixed size mounted for one test, so that a full or read-only disk is the
/// kernel's `ENOSPC` or `EROFS`, not a test double.
///
/// Unmounted when the test ends, whatever path it takes; a forwarder still exiting keeps the
/// mount busy, so a lazy unmount is the fallback.
final class SmallDisk: @unchecked Sendable {
    let path: String
    private var isMounted = true

    struct MountError: Error, CustomStringConvertible {
        var description: String
    }

    /// Why a tmpfs cannot be mounted here, or nil when it can (tried once, on a scratch folder).
    static let unavailableReason: String? = {
        guard getuid() == 0 else { return "mounting a tmpfs needs root (CI runs as root)" }
        do {
            let probe = try SmallDisk(byteCount: 64 << 10)
            probe.unmount()
            return nil
        } catch {
            return "cannot mount a tmpfs: \(error)"
        }
    }()

    /// Mounts a tmpfs of `byteCount` bytes on a new folder under the temporary directory.
    init(byteCount: Int) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("small-disk-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        let result = try Self.run("mount", ["-t", "tmpfs", "-o", "size=\(byteCount),mode=0755", "tmpfs", path])
        guard result.status == 0 else {
            try? FileManager.default.removeItem(atPath: path)
            throw MountError(description: "mount -t tmpfs failed (\(result.status)): \(result.standardError)")
        }
    }

    deinit { unmount() }

    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    /// Fills every free byte with a file named `filler`: large writes first, then single bytes,
    /// until the kernel answers `ENOSPC`. Returns the filler's path.
    @discardableResult
    func fill() throws -> String {
        let fillerPath = file("filler")
        let descriptor = open(fillerPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw MountError(description: "cannot create \(fillerPath): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        for chunkSize in [64 << 10, 4 << 10, 1] {
            let chunk = [UInt8](repeating: 0, count: chunkSize)
            while chunk.withUnsafeBytes({ write(descriptor, $0.baseAddress!, chunkSize) }) > 0 {}
            guard errno == ENOSPC else { throw MountError(description: "filling \(fillerPath): \(String(cString: strerror(errno)))") }
        }
        return fillerPath
    }

    /// Makes room again by deleting the filler.
    func free() throws {
        try FileManager.default.removeItem(atPath: file("filler"))
    }

    /// `mount -o remount,ro` (or `rw`); refused while a file on it is open for writing.
    func remount(readOnly: Bool) throws {
        let result = try Self.run("mount", ["-o", readOnly ? "remount,ro" : "remount,rw", path])
        guard result.status == 0 else {
            throw MountError(description: "remount \(readOnly ? "ro" : "rw") failed (\(result.status)): \(result.standardError)")
        }
    }

    func unmount() {
        guard isMounted else { return }
        isMounted = false
        if (try? Self.run("umount", [path]))?.status != 0 {
            _ = try? Self.run("umount", ["-l", path])
        }
        try? FileManager.default.removeItem(atPath: path)
    }

    private static func run(_ tool: String, _ arguments: [String]) throws -> ProcessResult {
        let executable = ["/usr/bin/", "/bin/", "/usr/sbin/", "/sbin/"].map { $0 + tool }
            .first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/bin/" + tool
        return try runProcess(URL(fileURLWithPath: executable), arguments)
    }
}
