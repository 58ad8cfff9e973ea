import Foundation

/// The file system calls of a process, as `strace -f -y` saw them: the observer of durability.
///
/// The state store's own code cannot prove that it syncs (a test that asks it would share its
/// mistake), so the durability tests read what the kernel was asked to do instead.
struct SyscallTrace {
    /// One completed call on a file, in the order the calls returned.
    enum Call: Equatable {
        case wrote(path: String, byteCount: Int)
        case truncated(path: String, length: Int)
        case synced(path: String)
        case renamed(from: String, to: String)
    }

    var calls: [Call]

    /// `strace`, when this machine has it.
    static let stracePath: String? = ["/usr/bin/strace", "/bin/strace", "/usr/local/bin/strace"]
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// The arguments that make `strace` write the calls this type reads to `output`.
    static func straceArguments(output: String) -> [String] {
        ["-f", "-y", "-qq", "-e", "trace=write,fsync,fdatasync,ftruncate,rename,renameat,renameat2", "-o", output, "--"]
    }

    /// Reads an `strace -f -y` log; calls that failed, and lines about anything else, are left out.
    init(log: String) {
        var pendingByProcess: [Substring: Substring] = [:]
        var calls: [Call] = []
        for rawLine in log.split(separator: "\n") {
            var line = rawLine[...]
            var process: Substring = ""
            if let space = line.firstIndex(of: " "), line[..<space].allSatisfy(\.isNumber) {
                process = line[..<space]
                line = line[space...].drop { $0 == " " }
            }
            if let unfinished = line.range(of: " <unfinished ...>") {
                pendingByProcess[process] = line[..<unfinished.lowerBound]
                continue
            }
            if line.hasPrefix("<... "), let resumed = line.range(of: " resumed>") {
                guard let start = pendingByProcess.removeValue(forKey: process) else { continue }
                line = Substring(String(start) + line[resumed.upperBound...])
            }
            if let call = Self.call(in: line) { calls.append(call) }
        }
        self.calls = calls
    }

    /// The length a file had when it was last synced, replaying writes and truncations from
    /// `initialLength` (0 for a file that did not exist); nil if it was never synced.
    func syncedLength(of path: String, initialLength: Int = 0) -> Int? {
        var length = initialLength
        var synced: Int?
        for call in calls {
            switch call {
            case .wrote(path, let byteCount): length += byteCount
            case .truncated(path, let newLength): length = newLength
            case .synced(path): synced = length
            default: break
            }
        }
        return synced
    }

    /// Renames whose new file was not synced before, or whose folder was not synced after.
    func unsyncedReplacements() -> [String] {
        var problems: [String] = []
        for (index, call) in calls.enumerated() {
            guard case .renamed(let from, let to) = call else { continue }
            let before = calls[..<index]
            let lastWrite = before.lastIndex { if case .wrote(from, _) = $0 { true } else { false } }
            let lastSync = before.lastIndex { $0 == .synced(path: from) }
            if lastSync == nil || (lastWrite.map { $0 > lastSync! } ?? false) {
                problems.append("\(from) renamed to \(to) without being synced after its last write")
            }
            let folder = (to as NSString).deletingLastPathComponent
            if !calls[(index + 1)...].contains(.synced(path: folder)) {
                problems.append("\(to) replaced but its folder \(folder) never synced afterwards")
            }
        }
        return problems
    }

    private static func call(in line: Substring) -> Call? {
        guard let open = line.firstIndex(of: "("), let close = line.range(of: ")", options: .backwards) else { return nil }
        let name = line[..<open]
        let arguments = line[line.index(after: open)..<close.lowerBound]
        let result = line[close.upperBound...].drop { $0 == " " }
        guard result.hasPrefix("= "), let returned = Int(result.dropFirst(2).prefix { $0 == "-" || $0.isNumber }),
              returned >= 0 else { return nil }
        switch name {
        case "write":
            return descriptorPath(arguments).map { .wrote(path: $0, byteCount: returned) }
        case "fsync", "fdatasync":
            return descriptorPath(arguments).map { .synced(path: $0) }
        case "ftruncate":
            guard let path = descriptorPath(arguments),
                  let length = arguments.split(separator: ",").last.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) })
            else { return nil }
            return .truncated(path: path, length: length)
        case "rename", "renameat", "renameat2":
            let quoted = arguments.split(separator: "\"", omittingEmptySubsequences: false).enumerated()
                .filter { $0.offset % 2 == 1 }.map { String($0.element) }
            guard quoted.count >= 2 else { return nil }
            return .renamed(from: quoted[0], to: quoted[1])
        default:
            return nil
        }
    }

    /// The path `strace -y` prints after a descriptor: `7</var/lib/state.journal>`.
    private static func descriptorPath(_ arguments: Substring) -> String? {
        guard let open = arguments.firstIndex(of: "<"), let close = arguments.firstIndex(of: ">"), open < close else { return nil }
        return String(arguments[arguments.index(after: open)..<close])
    }
}
