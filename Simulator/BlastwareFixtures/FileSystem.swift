import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The folder operations packing and unpacking need, with errors in the archive's vocabulary.
enum FileSystem {
    /// Names directly inside `path`.
    static func entryNames(of path: String) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw FixtureArchiveError.fileSystem(path: path, operation: "list", code: ENOENT)
        }
    }

    static func makeDirectories(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw FixtureArchiveError.fileSystem(path: path, operation: "create folder", code: EEXIST)
        }
    }

    /// Removes `path` and everything below it; nothing to do when it does not exist.
    static func removeTree(_ path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { return }
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch {
            throw FixtureArchiveError.fileSystem(path: path, operation: "remove", code: EACCES)
        }
    }

    static func isDirectory(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFDIR
    }

    /// Moves every entry of `source` into `destination`, merging folders and replacing files.
    static func moveContents(of source: String, into destination: String) throws {
        for name in try entryNames(of: source) {
            let from = "\(source)/\(name)"
            let to = "\(destination)/\(name)"
            if isDirectory(from), isDirectory(to) {
                try moveContents(of: from, into: to)
                continue
            }
            if FileManager.default.fileExists(atPath: to) { try removeTree(to) }
            guard rename(from, to) == 0 else {
                throw FixtureArchiveError.fileSystem(path: to, operation: "move into place", code: errno)
            }
        }
    }

    static func setModificationTime(of path: String, seconds: Int64) throws {
        var times = [timespec(tv_sec: Int(seconds), tv_nsec: 0), timespec(tv_sec: Int(seconds), tv_nsec: 0)]
        guard utimensat(AT_FDCWD, path, &times, 0) == 0 else {
            throw FixtureArchiveError.fileSystem(path: path, operation: "set modification time of", code: errno)
        }
    }
}
