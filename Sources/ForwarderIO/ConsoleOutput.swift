import ForwarderCore
import Foundation
import Logging

/// A log handler that writes one JSON object per line to standard error, for log shippers.
public struct JSONLineLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    private let label: String

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var object: [String: String] = ["time": "\(FileTime(Date()))", "level": "\(event.level)",
                                        "label": label, "message": "\(event.message)"]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
            object[key] = "\(value)"
        }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
        FileHandle.standardError.write(data + Data("\n".utf8))
    }
}

/// A progress line on standard error: redrawn in place on a terminal, every 10 % otherwise.
public final class ProgressLine: @unchecked Sendable {
    private let label: String
    private let isTerminal: Bool
    private let startedAt = Date()
    private var lastShownPercent = -1
    private var lastDrawAt = Date.distantPast
    private let lock = NSLock()

    public init(label: String) {
        self.label = label
        isTerminal = isatty(FileHandle.standardError.fileDescriptor) != 0
    }

    public func update(done: Int, total: Int) {
        lock.withLock {
            let percent = total == 0 ? 100 : done * 100 / total
            let now = Date()
            if isTerminal {
                guard done == total || now.timeIntervalSince(lastDrawAt) >= 0.1 else { return }
                lastDrawAt = now
                let filled = percent / 4
                let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: 25 - filled)
                let line = String(format: "\r%@ [%@] %3d%% %d/%d %.1fs", label, bar, percent, done, total,
                                  now.timeIntervalSince(startedAt))
                FileHandle.standardError.write(Data(line.utf8))
                if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
            } else if percent / 10 != lastShownPercent / 10 || (done == total && lastShownPercent != 100) {
                lastShownPercent = percent
                let line = String(format: "%@ %3d%% %d/%d %.1fs\n", label, percent, done, total,
                                  now.timeIntervalSince(startedAt))
                FileHandle.standardError.write(Data(line.utf8))
            }
        }
    }
}
