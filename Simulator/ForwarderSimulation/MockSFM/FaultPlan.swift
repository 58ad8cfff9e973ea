import Foundation

/// The faults a mock SFM injects into import requests: a JSON document of named rules.
///
/// Each rule pairs one fault with when it applies: a probability drawn from the plan's seed, a
/// range of request numbers, a time window, or any combination (all must hold). Request numbers
/// and times count from when the plan was installed, so an outage written as "requests 100–400"
/// means the same thing whether the plan came with `--faults` or through `PUT /mock/faults`.
/// The format is documented with examples in docs/MOCK-SFM.md.
public struct FaultPlan: Hashable, Sendable, Codable {
    /// Seeds every rule's random stream; the server's `--seed` is used when this is absent.
    public var seed: UInt64?
    public var rules: [FaultRule]

    public init(seed: UInt64? = nil, rules: [FaultRule] = []) {
        self.seed = seed
        self.rules = rules
    }

    /// A plan that injects nothing.
    public static let none = FaultPlan()

    /// Decodes a plan from its JSON document.
    public init(json: Data) throws {
        self = try JSONDecoder().decode(FaultPlan.self, from: json)
    }
}

/// One named fault and the conditions under which it fires.
public struct FaultRule: Hashable, Sendable, Codable {
    /// Names the rule in the journal and the statistics; also names its random stream.
    public var name: String
    public var fault: Fault
    /// Chance per eligible request, 0…1; absent means always.
    public var probability: Double?
    /// Import request numbers (1-based, since the plan was installed) the rule is limited to.
    public var requests: RequestRange?
    /// Time since the plan was installed that the rule is limited to.
    public var window: TimeWindow?
    /// Store the upload first, then inject the fault: the client sees a failure although the
    /// server committed ("response lost after commit"). Absent means before storing.
    public var afterStore: Bool?
    /// Only requests that carry a file of one of these names (a "poison" event the server
    /// always refuses); absent means any request.
    public var fileNames: [String]?

    public init(name: String, fault: Fault, probability: Double? = nil, requests: RequestRange? = nil,
                window: TimeWindow? = nil, afterStore: Bool? = nil, fileNames: [String]? = nil) {
        self.fileNames = fileNames
        self.name = name
        self.fault = fault
        self.probability = probability
        self.requests = requests
        self.window = window
        self.afterStore = afterStore
    }
}

/// An inclusive range of import request numbers; `last` absent means no end.
public struct RequestRange: Hashable, Sendable, Codable {
    public var first: Int
    public var last: Int?

    public init(first: Int, last: Int? = nil) {
        self.first = first
        self.last = last
    }

    public func contains(_ requestNumber: Int) -> Bool {
        requestNumber >= first && (last.map { requestNumber <= $0 } ?? true)
    }
}

/// A window of time since the plan was installed; `durationSeconds` absent means no end.
public struct TimeWindow: Hashable, Sendable, Codable {
    public var startSeconds: Double
    public var durationSeconds: Double?

    public init(startSeconds: Double, durationSeconds: Double? = nil) {
        self.startSeconds = startSeconds
        self.durationSeconds = durationSeconds
    }

    public func contains(_ elapsed: Duration) -> Bool {
        let seconds = elapsed.secondsValue
        return seconds >= startSeconds && (durationSeconds.map { seconds < startSeconds + $0 } ?? true)
    }
}

/// What goes wrong. Encoded as an object with a `kind` and the kind's parameters.
public enum Fault: Hashable, Sendable, Codable {
    /// The connection is reset (TCP RST) instead of answered.
    case connectionReset
    /// The connection is closed without a byte of response.
    case closeWithoutResponse
    /// A chunked response whose chunk-size line is not hexadecimal, then close.
    case malformedChunk
    /// Seeded random bytes instead of an HTTP response, then close.
    case garbageThenClose(byteCount: Int)
    /// No answer at all until the client gives up and closes, or `maximum` passes.
    case noAnswer(maximum: Duration)
    /// An HTTP error status with a JSON `detail` body, and `Retry-After` when given.
    case httpStatus(code: Int, retryAfterSeconds: Int?)
    /// Status 200 with a body that is not JSON.
    case nonJSONBody
    /// Status 200 with a JSON reply that has no row for the binary.
    case missingRow
    /// Status 200 with the binary's row saying `error`.
    case fileErrorRow(detail: String)
    /// The answer is delayed; combines with any other fault.
    case delay(DelayDistribution)
    /// The answer's body is sent in small chunks with pauses; combines with any other fault.
    case slowBody(chunkByteCount: Int, interval: Duration)

    /// The `kind` string used in JSON, the journal and the statistics.
    public var kindName: String {
        switch self {
        case .connectionReset: return "connectionReset"
        case .closeWithoutResponse: return "closeWithoutResponse"
        case .malformedChunk: return "malformedChunk"
        case .garbageThenClose: return "garbageThenClose"
        case .noAnswer: return "noAnswer"
        case .httpStatus: return "httpStatus"
        case .nonJSONBody: return "nonJSONBody"
        case .missingRow: return "missingRow"
        case .fileErrorRow: return "fileErrorRow"
        case .delay: return "delay"
        case .slowBody: return "slowBody"
        }
    }

    private enum CodingKeys: String, CodingKey {
        case kind, byteCount, maximumSeconds, status, retryAfterSeconds, detail, distribution
        case chunkByteCount, intervalMilliseconds
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try container.decode(String.self, forKey: .kind)
        switch kind {
        case "connectionReset": self = .connectionReset
        case "closeWithoutResponse": self = .closeWithoutResponse
        case "malformedChunk": self = .malformedChunk
        case "garbageThenClose":
            self = .garbageThenClose(byteCount: try container.decodeIfPresent(Int.self, forKey: .byteCount) ?? 512)
        case "noAnswer":
            let seconds = try container.decodeIfPresent(Double.self, forKey: .maximumSeconds) ?? 600
            self = .noAnswer(maximum: .milliseconds(Int64(seconds * 1000)))
        case "httpStatus":
            self = .httpStatus(code: try container.decode(Int.self, forKey: .status),
                               retryAfterSeconds: try container.decodeIfPresent(Int.self, forKey: .retryAfterSeconds))
        case "nonJSONBody": self = .nonJSONBody
        case "missingRow": self = .missingRow
        case "fileErrorRow":
            self = .fileErrorRow(detail: try container.decodeIfPresent(String.self, forKey: .detail)
                ?? "injected per-file error")
        case "delay": self = .delay(try container.decode(DelayDistribution.self, forKey: .distribution))
        case "slowBody":
            let interval = try container.decodeIfPresent(Int64.self, forKey: .intervalMilliseconds) ?? 50
            self = .slowBody(chunkByteCount: try container.decodeIfPresent(Int.self, forKey: .chunkByteCount) ?? 16,
                             interval: .milliseconds(interval))
        default:
            throw DecodingError.dataCorruptedError(forKey: .kind, in: container,
                                                   debugDescription: "unknown fault kind \"\(kind)\"")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kindName, forKey: .kind)
        switch self {
        case .connectionReset, .closeWithoutResponse, .malformedChunk, .nonJSONBody, .missingRow: break
        case .garbageThenClose(let byteCount): try container.encode(byteCount, forKey: .byteCount)
        case .noAnswer(let maximum): try container.encode(maximum.secondsValue, forKey: .maximumSeconds)
        case .httpStatus(let code, let retryAfterSeconds):
            try container.encode(code, forKey: .status)
            try container.encodeIfPresent(retryAfterSeconds, forKey: .retryAfterSeconds)
        case .fileErrorRow(let detail): try container.encode(detail, forKey: .detail)
        case .delay(let distribution): try container.encode(distribution, forKey: .distribution)
        case .slowBody(let chunkByteCount, let interval):
            try container.encode(chunkByteCount, forKey: .chunkByteCount)
            try container.encode(interval.wholeNanoseconds / 1_000_000, forKey: .intervalMilliseconds)
        }
    }
}

/// How long a delay fault waits, drawn per request from the rule's random stream.
public enum DelayDistribution: Hashable, Sendable, Codable {
    case fixed(Duration)
    case uniform(minimum: Duration, maximum: Duration)
    /// Log-normal with the given median and 95th percentile: mostly short, a long tail.
    case logNormal(median: Duration, percentile95: Duration)

    private enum CodingKeys: String, CodingKey {
        case kind, milliseconds, minimumMilliseconds, maximumMilliseconds, medianMilliseconds
        case percentile95Milliseconds
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func milliseconds(_ key: CodingKeys) throws -> Duration {
            .microseconds(Int64(try container.decode(Double.self, forKey: key) * 1000))
        }
        switch try container.decode(String.self, forKey: .kind) {
        case "fixed": self = .fixed(try milliseconds(.milliseconds))
        case "uniform": self = .uniform(minimum: try milliseconds(.minimumMilliseconds),
                                        maximum: try milliseconds(.maximumMilliseconds))
        case "logNormal": self = .logNormal(median: try milliseconds(.medianMilliseconds),
                                            percentile95: try milliseconds(.percentile95Milliseconds))
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .kind, in: container,
                                                   debugDescription: "unknown delay kind \"\(other)\"")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        func encode(_ duration: Duration, _ key: CodingKeys) throws {
            try container.encode(duration.secondsValue * 1000, forKey: key)
        }
        switch self {
        case .fixed(let duration):
            try container.encode("fixed", forKey: .kind)
            try encode(duration, .milliseconds)
        case .uniform(let minimum, let maximum):
            try container.encode("uniform", forKey: .kind)
            try encode(minimum, .minimumMilliseconds)
            try encode(maximum, .maximumMilliseconds)
        case .logNormal(let median, let percentile95):
            try container.encode("logNormal", forKey: .kind)
            try encode(median, .medianMilliseconds)
            try encode(percentile95, .percentile95Milliseconds)
        }
    }

    /// One draw from the distribution.
    func sample(using random: inout SeededRandom) -> Duration {
        switch self {
        case .fixed(let duration):
            return duration
        case .uniform(let minimum, let maximum):
            let low = minimum.secondsValue
            let high = max(low, maximum.secondsValue)
            return .microseconds(Int64((low + (high - low) * random.unitInterval()) * 1e6))
        case .logNormal(let median, let percentile95):
            let seconds = random.logNormal(median: median.secondsValue,
                                           percentile95: max(percentile95.secondsValue, median.secondsValue * 1.000_001))
            return .microseconds(Int64(seconds * 1e6))
        }
    }
}

/// The faults chosen for one request.
public struct FaultDecision: Hashable, Sendable {
    /// The first matching rule whose fault changes the answer, if any.
    public var terminal: InjectedFault?
    /// Total delay before answering, from every matching delay rule.
    public var delay: Duration = .zero
    /// Pacing of the answer's body, from the first matching slow-body rule.
    public var bodyPacing: BodyPacing?
    /// Every rule that fired, with its fault kind, in plan order.
    public var firedRules: [FiredRule] = []
    /// Random bytes for `garbageThenClose`, drawn from the rule's stream.
    public var garbage: Data = Data()

    public init() {}
}

/// The fault that decides a request's answer, and the rule that chose it.
public struct InjectedFault: Hashable, Sendable {
    public var rule: String
    public var fault: Fault
    /// True when the upload is stored before the fault is injected.
    public var afterStore: Bool
}

/// A rule that fired, for the journal and statistics.
public struct FiredRule: Hashable, Sendable, Codable {
    public var rule: String
    public var kind: String
    public var afterStore: Bool

    public init(rule: String, kind: String, afterStore: Bool) {
        self.rule = rule
        self.kind = kind
        self.afterStore = afterStore
    }
}

/// How a slow body is sent: this many bytes, then a pause, until done.
public struct BodyPacing: Hashable, Sendable {
    public var chunkByteCount: Int
    public var interval: Duration

    public init(chunkByteCount: Int, interval: Duration) {
        self.chunkByteCount = chunkByteCount
        self.interval = interval
    }
}

/// Evaluates a plan request by request, with one random stream per rule.
///
/// Every eligible rule draws once per request whether or not an earlier rule already fired, so
/// adding or removing a rule never changes which requests another rule hits.
struct FaultInjector: Sendable {
    let plan: FaultPlan
    private var streams: [SeededRandom]

    init(plan: FaultPlan, defaultSeed: UInt64) {
        self.plan = plan
        let root = SeededRandom(seed: plan.seed ?? defaultSeed)
        streams = plan.rules.map { root.derived("fault:" + $0.name) }
    }

    mutating func decide(requestNumber: Int, elapsed: Duration, fileNames: [String] = []) -> FaultDecision {
        var decision = FaultDecision()
        for (index, rule) in plan.rules.enumerated() {
            if let requests = rule.requests, !requests.contains(requestNumber) { continue }
            if let only = rule.fileNames, !fileNames.contains(where: only.contains) { continue }
            if let window = rule.window, !window.contains(elapsed) { continue }
            if let probability = rule.probability, probability < 1 {
                guard streams[index].chance(probability) else { continue }
            }
            let afterStore = rule.afterStore ?? false
            switch rule.fault {
            case .delay(let distribution):
                decision.delay += distribution.sample(using: &streams[index])
            case .slowBody(let chunkByteCount, let interval):
                if decision.bodyPacing == nil {
                    decision.bodyPacing = BodyPacing(chunkByteCount: max(1, chunkByteCount), interval: interval)
                }
            case .garbageThenClose(let byteCount):
                if decision.terminal == nil {
                    var bytes = Data(capacity: byteCount)
                    for _ in 0..<max(1, byteCount) { bytes.append(UInt8(truncatingIfNeeded: streams[index].next())) }
                    decision.garbage = bytes
                }
                fallthrough
            default:
                if decision.terminal == nil {
                    decision.terminal = InjectedFault(rule: rule.name, fault: rule.fault, afterStore: afterStore)
                }
            }
            decision.firedRules.append(FiredRule(rule: rule.name, kind: rule.fault.kindName, afterStore: afterStore))
        }
        return decision
    }
}
