import ForwarderCore
import ForwarderSimulation
import Foundation

/// What each forwarder of a live fleet said about its uploads, read from its JSON log.
///
/// The mock cannot see a client give up: a 200 that reached a forwarder after its request
/// timeout looks accepted from the server's side, and the re-send that follows would read as
/// one the exactly-once checker cannot explain. Each upload's log line says what the forwarder
/// made of the answer, so the live evidence takes the forwarder's word for it.
public enum LiveFleetLog {
    /// One upload's outcome as its forwarder logged it.
    public struct Outcome: Equatable, Sendable {
        public var binaryName: String
        public var loggedAt: FileTime
        public var outcome: UploadOutcome
    }

    /// The forwarder's messages for an upload the server accepted, and for one it did not.
    static let acceptedMessages: Set<String> = ["forwarded", "re-sent with late report"]
    static let failedMessages: Set<String> = ["upload failed; will retry after backoff",
                                              "rejected by server; will retry after backoff"]
    static let quarantinedPrefix = "quarantined after "

    /// The upload outcomes of one forwarder's JSON log, in the order logged; lines that are
    /// not about an upload's answer are left out.
    public static func outcomes(ofLogAt path: String) throws -> [Outcome] {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let message = object["message"] as? String, let name = object["event.name"] as? String,
                  let time = (object["time"] as? String).flatMap(formatter.date(from:)) else { return nil }
            let outcome: UploadOutcome
            if acceptedMessages.contains(message) {
                outcome = .accepted(ImportFileResult(filename: name, status: "ok",
                                                     inserted: (object["server.inserted"] as? String).flatMap { Int($0) },
                                                     skipped: (object["server.skipped"] as? String).flatMap { Int($0) }))
            } else if failedMessages.contains(message) || message.hasPrefix(quarantinedPrefix) {
                let error = object["error"] as? String ?? message
                outcome = .failed(UploadProblem(kind: error.hasPrefix("timeout") ? .timeout : .transport, detail: error))
            } else {
                return nil
            }
            return Outcome(binaryName: name, loggedAt: FileTime(time), outcome: outcome)
        }
    }

    /// The journal's requests with each PC's logged outcomes in place of what the server's
    /// answer suggests: a line belongs to the latest request of that PC and binary that arrived
    /// before it and has no line yet. The mock does not parse a body it refuses over capacity,
    /// so a line left over belongs to the latest such nameless request of that PC before it.
    /// A request its forwarder logged nothing for (stopped before the answer came) has no
    /// outcome: it was not seen accepted.
    ///
    /// Returns the requests and how many of them have no logged outcome.
    public static func withLoggedOutcomes(_ requests: [FleetRequest], logs: [[Outcome]]) -> (requests: [FleetRequest], unlogged: Int) {
        var requests = requests
        var matched = Set<Int>()
        var indicesByKey: [String: [Int]] = [:]
        for index in requests.indices {
            indicesByKey["\(requests[index].pc)/\(requests[index].binaryName)", default: []].append(index)
        }
        // Log times are written to the millisecond; an answer is never logged before its request arrived.
        let rounding = Duration.milliseconds(1)
        for (pc, outcomes) in logs.enumerated() {
            for logged in outcomes.sorted(by: { $0.loggedAt < $1.loggedAt }) {
                for key in ["\(pc)/\(logged.binaryName)", "\(pc)/"] {
                    guard let index = (indicesByKey[key] ?? [])
                        .filter({ !matched.contains($0) && requests[$0].arrivedAt <= logged.loggedAt + rounding })
                        .max(by: { requests[$0].arrivedAt < requests[$1].arrivedAt }) else { continue }
                    matched.insert(index)
                    requests[index].clientOutcome = logged.outcome
                    requests[index].outcomeSeenAt = logged.loggedAt
                    break
                }
            }
        }
        var unlogged = 0
        for index in requests.indices where !matched.contains(index) {
            requests[index].clientOutcome = nil
            requests[index].outcomeSeenAt = nil
            unlogged += 1
        }
        return (requests, unlogged)
    }
}
