import ForwarderCore
import Foundation

/// Which waiting events `event-forwarder retry` releases.
public enum ReleaseSelection: Hashable, Sendable {
    /// Every event that is quarantined or backing off.
    case all
    /// These binaries, by name (ASCII case does not matter, as on Windows).
    case names([String])
}

/// What a release did.
public struct ReleaseOutcome: Hashable, Sendable {
    /// Names whose attempts were forgotten: they are tried at the next pass.
    public var released: [String] = []
    /// Requested names that were neither quarantined nor backing off.
    public var notWaiting: [String] = []
}

/// Releases left by `event-forwarder retry` for a forwarder that holds the state's lock.
///
/// The state can be written by one process only, so a release while the service runs is a small
/// file beside the state (`<state>.release-<id>`, written atomically); the running forwarder
/// applies and deletes it before its next pass.
public struct ReleaseRequestBox: Sendable {
    public let statePath: String

    public init(statePath: String) { self.statePath = statePath }

    private var folder: String {
        let folder = (statePath as NSString).deletingLastPathComponent
        return folder.isEmpty ? "." : folder
    }

    private var prefix: String { (statePath as NSString).lastPathComponent + ".release-" }

    /// Leaves a request; returns its path.
    public func submit(_ selection: ReleaseSelection) throws -> String {
        let text: String
        switch selection {
        case .all: text = "*\n"
        case .names(let names): text = names.map { $0 + "\n" }.joined()
        }
        let path = (folder as NSString).appendingPathComponent(prefix + UUID().uuidString)
        try AtomicFileWriter.write(Data(text.utf8), to: path)
        return path
    }

    /// Applies every waiting request to `store` and deletes it; the store is synced first, so a
    /// crash between the two applies a request twice, which is harmless.
    public func applyPending(to store: any ForwardStateStore) throws -> ReleaseOutcome {
        let requests = (try? FileManager.default.contentsOfDirectory(atPath: folder))?
            .filter { $0.hasPrefix(prefix) && !$0.hasSuffix(".tmp") }.sorted() ?? []
        var outcome = ReleaseOutcome()
        var applied: [String] = []
        for name in requests {
            let path = (folder as NSString).appendingPathComponent(name)
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
            let lines = text.split(whereSeparator: \.isNewline).map(String.init)
            let selection: ReleaseSelection = lines == ["*"] ? .all : .names(lines)
            let result = try Self.release(selection, in: store)
            outcome.released += result.released
            outcome.notWaiting += result.notWaiting
            applied.append(path)
        }
        guard !applied.isEmpty else { return outcome }
        try store.sync()
        for path in applied { try? FileManager.default.removeItem(atPath: path) }
        return outcome
    }

    /// Forgets the attempts of the selected events in `store` (not synced).
    public static func release(_ selection: ReleaseSelection, in store: any ForwardStateStore) throws -> ReleaseOutcome {
        let outcome = select(selection, from: store.allAttempts())
        for fileName in outcome.released { try store.releaseAttempts(forName: fileName) }
        return outcome
    }

    /// Which of the `waiting` events a selection releases, and which requested names are not waiting.
    public static func select(_ selection: ReleaseSelection, from waiting: [DeliveryAttempts]) -> ReleaseOutcome {
        var outcome = ReleaseOutcome()
        switch selection {
        case .all:
            outcome.released = waiting.map(\.fileName).sorted()
        case .names(let names):
            let byKey = Dictionary(waiting.map { (EventFileRules.caseFoldedKey($0.fileName), $0.fileName) },
                                   uniquingKeysWith: { first, _ in first })
            for name in names {
                if let fileName = byKey[EventFileRules.caseFoldedKey(name)] {
                    outcome.released.append(fileName)
                } else {
                    outcome.notWaiting.append(name)
                }
            }
        }
        return outcome
    }
}
