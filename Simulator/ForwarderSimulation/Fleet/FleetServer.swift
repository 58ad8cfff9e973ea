import ForwarderCore
import Foundation
import Synchronization

/// What the fleet's one server can do: a service time per request and per MB, a limit on
/// requests in progress, and what it answers when that limit is reached.
public struct FleetServerCapacity: Sendable, Hashable {
    public enum OverCapacity: String, Sendable, Hashable, CaseIterable {
        /// Refuse with 429 and `Retry-After`.
        case tooManyRequests = "429"
        /// Refuse with 503 and `Retry-After`.
        case unavailable = "503"
    }

    public var maximumInProgress: Int
    public var serviceTimePerRequest: Duration
    public var serviceTimePerMegabyte: Duration
    public var overCapacity: OverCapacity
    /// The `Retry-After` a refusal carries, in whole seconds.
    public var retryAfterSeconds: Int

    public init(maximumInProgress: Int = 4, serviceTimePerRequest: Duration = .milliseconds(400),
                serviceTimePerMegabyte: Duration = .milliseconds(800), overCapacity: OverCapacity = .tooManyRequests,
                retryAfterSeconds: Int = 5) {
        self.maximumInProgress = maximumInProgress
        self.serviceTimePerRequest = serviceTimePerRequest
        self.serviceTimePerMegabyte = serviceTimePerMegabyte
        self.overCapacity = overCapacity
        self.retryAfterSeconds = retryAfterSeconds
    }

    /// The time one request of `byteCount` bytes takes to serve, scaled by `slowdown`.
    public func serviceTime(byteCount: Int, slowdown: Double = 1) -> Duration {
        (serviceTimePerRequest + serviceTimePerMegabyte * (Double(byteCount) / 1_000_000)) * slowdown
    }

    /// The mock's capacity plan for this server, its service times `slowdown` times longer.
    public func plan(slowdown: Double) -> CapacityPlan {
        CapacityPlan(maximumInProgress: maximumInProgress,
                     serviceMillisecondsPerRequest: serviceTimePerRequest.secondsValue * 1000 * slowdown,
                     serviceMillisecondsPerMegabyte: serviceTimePerMegabyte.secondsValue * 1000 * slowdown,
                     overCapacity: overCapacity == .unavailable ? .serviceUnavailable : .tooManyRequests,
                     retryAfterSeconds: retryAfterSeconds)
    }

    /// Requests a second the server completes at full load with requests of `meanByteCount`.
    public func requestsPerSecond(meanByteCount: Double) -> Double {
        Double(maximumInProgress) / serviceTime(byteCount: Int(meanByteCount.rounded())).secondsValue
    }
}

/// The server's side of one request of the fleet, as its journal keeps it.
public struct FleetRequest: Sendable, Hashable {
    public enum ServerAnswer: Sendable, Hashable {
        /// Served: started at `startedAt`, answered at `finishedAt` with this status.
        case served(startedAt: FileTime, finishedAt: FileTime, status: Int)
        /// Refused on arrival because the limit of requests in progress was reached.
        case refused(status: Int)
        /// The server was down: the connection was refused.
        case unreachable
    }

    public var pc: Int
    public var arrivedAt: FileTime
    public var byteCount: Int
    public var binaryName: String
    public var binaryDigest: EventDigest
    public var hasReport: Bool
    public var answer: ServerAnswer
    /// The server stored something new (an insert, new content or a report attached).
    public var stored: Bool
    /// The server already held this binary with nothing to add.
    public var alreadyHeld: Bool
    /// What the forwarder made of the reply (a timeout when the answer came too late).
    public var clientOutcome: UploadOutcome?
    /// When the forwarder had the answer, where that is known apart from the server's finish:
    /// in the live world, the time of its log line. On a loaded machine it is later than the
    /// finish the server's model planned (the server's and the forwarder's own delays).
    public var outcomeSeenAt: FileTime?

    public init(pc: Int, arrivedAt: FileTime, byteCount: Int, binaryName: String, binaryDigest: EventDigest,
                hasReport: Bool, answer: ServerAnswer, stored: Bool, alreadyHeld: Bool, clientOutcome: UploadOutcome?,
                outcomeSeenAt: FileTime? = nil) {
        self.pc = pc
        self.arrivedAt = arrivedAt
        self.byteCount = byteCount
        self.binaryName = binaryName
        self.binaryDigest = binaryDigest
        self.hasReport = hasReport
        self.answer = answer
        self.stored = stored
        self.alreadyHeld = alreadyHeld
        self.clientOutcome = clientOutcome
        self.outcomeSeenAt = outcomeSeenAt
    }

    public var isRefusal: Bool { if case .refused = answer { true } else { false } }
    public var reachedServer: Bool { if case .unreachable = answer { false } else { true } }
}
