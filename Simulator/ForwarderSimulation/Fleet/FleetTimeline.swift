import ForwarderCore
import Foundation

/// The fleet's day step by step (a minute on the simulated day, a second in the compressed
/// live world), from the server's journal and the generator's manifests: requests, refusals,
/// requests in progress, and each PC's backlog (events written to its folder and not yet at
/// the server).
public struct FleetTimeline: Sendable {
    public struct Step: Sendable, Hashable {
        /// Steps since the day's start.
        public var index: Int
        /// Requests that reached the server (refused ones included).
        public var requests: Int
        public var refused: Int
        /// Connections refused because the server was down.
        public var unreachable: Int
        public var maximumInProgress: Int
        /// Events in folders and not at the server at the step's end, over the fleet.
        public var backlog: Int
        public var requestsPerSecond: Double
    }

    public var start: FileTime
    public var step: Duration
    public var steps: [Step]
    /// `backlogByPC[pc][step]`.
    public var backlogByPC: [[Int]]

    public init(manifests: [[ManifestEntry]], journal: [FleetRequest], start: FileTime, until end: FileTime,
                step: Duration = .seconds(60)) {
        self.start = start
        self.step = step
        let stepSeconds = step.secondsValue
        let count = max(1, Int(((end - start).secondsValue / stepSeconds).rounded(.up)))
        func minute(of time: FileTime) -> Int { min(count - 1, max(0, Int(((time - start).secondsValue / stepSeconds).rounded(.down)))) }
        var minutes = (0..<count).map {
            Step(index: $0, requests: 0, refused: 0, unreachable: 0, maximumInProgress: 0, backlog: 0, requestsPerSecond: 0)
        }
        var changes: [(FileTime, Int)] = []
        var storedAt: [EventDigest: FileTime] = [:]
        for request in journal {
            let index = minute(of: request.arrivedAt)
            switch request.answer {
            case .unreachable:
                minutes[index].unreachable += 1
            case .refused:
                minutes[index].requests += 1
                minutes[index].refused += 1
            case .served(let startedAt, let finishedAt, _):
                minutes[index].requests += 1
                changes.append((startedAt, 1))
                changes.append((finishedAt, -1))
                if request.stored { storedAt[request.binaryDigest] = min(storedAt[request.binaryDigest] ?? finishedAt, finishedAt) }
            }
        }
        changes.sort { ($0.0, $0.1) < ($1.0, $1.1) }
        var current = 0
        var changeIndex = 0
        for index in minutes.indices {
            minutes[index].maximumInProgress = current
            let minuteEnd = start + step * (index + 1)
            while changeIndex < changes.count, changes[changeIndex].0 < minuteEnd {
                current += changes[changeIndex].1
                minutes[index].maximumInProgress = max(minutes[index].maximumInProgress, current)
                changeIndex += 1
            }
        }
        // An event is in the backlog at the end of every minute from the one in which its
        // binary is written (the first, for events written before the day) up to, not
        // including, the one in which the server stores it.
        func firstMinuteEnding(atOrAfter time: FileTime) -> Int {
            min(count, max(0, Int(((time - start).secondsValue / stepSeconds).rounded(.up)) - 1))
        }
        backlogByPC = manifests.map { manifest in
            var difference = Array(repeating: 0, count: count + 1)
            for entry in manifest {
                let first = firstMinuteEnding(atOrAfter: entry.binaryModificationTime)
                let stored = entry.digest.flatMap { storedAt[$0] }
                let endExclusive = stored.map { firstMinuteEnding(atOrAfter: $0) } ?? count
                guard endExclusive > first else { continue }
                difference[first] += 1
                difference[endExclusive] -= 1
            }
            var running = 0
            return (0..<count).map { index in
                running += difference[index]
                return running
            }
        }
        for index in minutes.indices {
            minutes[index].backlog = backlogByPC.reduce(0) { $0 + $1[index] }
            minutes[index].requestsPerSecond = Double(minutes[index].requests) / stepSeconds
        }
        steps = minutes
    }
}
