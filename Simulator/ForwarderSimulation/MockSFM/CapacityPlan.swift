import ForwarderCore
import Foundation

/// How much work the mock SFM does at once and what it answers when it cannot take more.
///
/// A fleet of forwarders meets a server that has a finite number of workers, each spending a
/// time per request and per megabyte; beyond that the server either queues (answers slowly) or
/// sheds load with `429`/`503` and `Retry-After`. The plan is plain data (JSON like a fault
/// plan) so the socket server, its flags and the simulated world describe the same server.
public struct CapacityPlan: Hashable, Sendable, Codable {
    /// What happens to a request that finds every slot busy.
    public enum OverCapacity: String, Hashable, Sendable, Codable, CaseIterable {
        /// Wait for a slot, first come first served (slow answers), up to `queueLimit` waiting.
        case queue
        /// Refuse at once with `429 Too Many Requests`.
        case tooManyRequests = "429"
        /// Refuse at once with `503 Service Unavailable`.
        case serviceUnavailable = "503"
    }

    /// How `Retry-After` is written.
    public enum RetryAfterForm: String, Hashable, Sendable, Codable, CaseIterable {
        /// Delay in whole seconds: `Retry-After: 5`.
        case seconds
        /// The moment as an RFC 9110 IMF-fixdate: `Retry-After: Sun, 06 Nov 1994 08:49:42 GMT`.
        case date
    }

    /// Requests served at the same time; the rest wait or are refused.
    public var maximumInProgress: Int
    /// Time a slot is busy for any request.
    public var serviceMillisecondsPerRequest: Double
    /// Time a slot is busy per megabyte (1,000,000 bytes) of request body, on top.
    public var serviceMillisecondsPerMegabyte: Double
    public var overCapacity: OverCapacity
    /// With `queue`: how many requests may wait at once; one more is refused with
    /// `queueFullStatus`. Absent: no limit.
    public var queueLimit: Int?
    /// The status (429 or 503) refusing a request that finds the queue full.
    public var queueFullStatus: Int
    /// `Retry-After` on refusals, in seconds from the refusal; absent: no header.
    public var retryAfterSeconds: Int?
    public var retryAfterForm: RetryAfterForm

    public init(maximumInProgress: Int, serviceMillisecondsPerRequest: Double = 0,
                serviceMillisecondsPerMegabyte: Double = 0, overCapacity: OverCapacity = .queue,
                queueLimit: Int? = nil, queueFullStatus: Int = 503, retryAfterSeconds: Int? = nil,
                retryAfterForm: RetryAfterForm = .seconds) {
        self.maximumInProgress = maximumInProgress
        self.serviceMillisecondsPerRequest = serviceMillisecondsPerRequest
        self.serviceMillisecondsPerMegabyte = serviceMillisecondsPerMegabyte
        self.overCapacity = overCapacity
        self.queueLimit = queueLimit
        self.queueFullStatus = queueFullStatus
        self.retryAfterSeconds = retryAfterSeconds
        self.retryAfterForm = retryAfterForm
    }

    private enum CodingKeys: String, CodingKey {
        case maximumInProgress, serviceMillisecondsPerRequest, serviceMillisecondsPerMegabyte, overCapacity,
             queueLimit, queueFullStatus, retryAfterSeconds, retryAfterForm
    }

    /// Decodes a plan in which only `maximumInProgress` is required; the rest take the defaults
    /// of `init`. The plan is validated: a bad value is an error naming the key and the value.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            maximumInProgress: try container.decode(Int.self, forKey: .maximumInProgress),
            serviceMillisecondsPerRequest: try container.decodeIfPresent(Double.self, forKey: .serviceMillisecondsPerRequest) ?? 0,
            serviceMillisecondsPerMegabyte: try container.decodeIfPresent(Double.self, forKey: .serviceMillisecondsPerMegabyte) ?? 0,
            overCapacity: try container.decodeIfPresent(OverCapacity.self, forKey: .overCapacity) ?? .queue,
            queueLimit: try container.decodeIfPresent(Int.self, forKey: .queueLimit),
            queueFullStatus: try container.decodeIfPresent(Int.self, forKey: .queueFullStatus) ?? 503,
            retryAfterSeconds: try container.decodeIfPresent(Int.self, forKey: .retryAfterSeconds),
            retryAfterForm: try container.decodeIfPresent(RetryAfterForm.self, forKey: .retryAfterForm) ?? .seconds)
        try validate()
    }

    /// Decodes and validates a plan from its JSON document.
    public init(json: Data) throws {
        self = try JSONDecoder().decode(CapacityPlan.self, from: json)
    }

    /// Throws `CapacityPlanError` naming the first key whose value cannot describe a server.
    public func validate() throws(CapacityPlanError) {
        guard maximumInProgress >= 1 else {
            throw CapacityPlanError(key: "maximumInProgress", value: "\(maximumInProgress)", expected: "at least 1")
        }
        guard serviceMillisecondsPerRequest >= 0, serviceMillisecondsPerRequest.isFinite else {
            throw CapacityPlanError(key: "serviceMillisecondsPerRequest", value: "\(serviceMillisecondsPerRequest)",
                                    expected: "a finite number of milliseconds, 0 or more")
        }
        guard serviceMillisecondsPerMegabyte >= 0, serviceMillisecondsPerMegabyte.isFinite else {
            throw CapacityPlanError(key: "serviceMillisecondsPerMegabyte", value: "\(serviceMillisecondsPerMegabyte)",
                                    expected: "a finite number of milliseconds, 0 or more")
        }
        if let queueLimit, queueLimit < 0 {
            throw CapacityPlanError(key: "queueLimit", value: "\(queueLimit)", expected: "0 or more")
        }
        guard queueFullStatus == 429 || queueFullStatus == 503 else {
            throw CapacityPlanError(key: "queueFullStatus", value: "\(queueFullStatus)", expected: "429 or 503")
        }
        if let retryAfterSeconds, retryAfterSeconds < 0 {
            throw CapacityPlanError(key: "retryAfterSeconds", value: "\(retryAfterSeconds)", expected: "0 or more")
        }
    }

    /// How long a slot is busy with a request whose body has `byteCount` bytes.
    public func serviceTime(byteCount: Int) -> Duration {
        let nanoseconds = serviceMillisecondsPerRequest * 1e6 + serviceMillisecondsPerMegabyte * Double(byteCount)
        return .nanoseconds(Int64(nanoseconds.rounded()))
    }

    /// The most requests per second the plan serves when every request has `byteCount` bytes:
    /// every slot busy back to back. Infinite with a zero service time. Fleet checkers compare
    /// a fleet's drain time and request rate with this.
    public func requestsPerSecond(byteCount: Int) -> Double {
        let serviceSeconds = serviceTime(byteCount: byteCount).secondsValue
        return serviceSeconds > 0 ? Double(maximumInProgress) / serviceSeconds : .infinity
    }

    /// The `Retry-After` value for a refusal at `time`, or nil when the plan gives none.
    ///
    /// The date form names the first whole second at or after `time + retryAfterSeconds`, so a
    /// client that honours it never comes back early.
    public func retryAfterValue(refusedAt time: FileTime) -> String? {
        guard let retryAfterSeconds else { return nil }
        switch retryAfterForm {
        case .seconds:
            return String(retryAfterSeconds)
        case .date:
            let retryAt = time.nanosecondsSince1970 + Int64(retryAfterSeconds) * 1_000_000_000
            let wholeSeconds = retryAt / 1_000_000_000 + (retryAt % 1_000_000_000 > 0 ? 1 : 0)
            return IMFFixdate.format(secondsSince1970: wholeSeconds)
        }
    }
}

/// A capacity plan value that cannot describe a server.
public struct CapacityPlanError: Error, Hashable, Sendable, CustomStringConvertible {
    public var key: String
    public var value: String
    public var expected: String

    public var description: String { "capacity \(key) is \(value): must be \(expected)" }
}

/// RFC 9110's preferred HTTP date form, `Sun, 06 Nov 1994 08:49:37 GMT`, written without
/// Foundation's locale-dependent formatters and without ForwarderCore's parser, so the mock
/// judges the forwarder's reading of the header instead of agreeing with it by construction.
public enum IMFFixdate {
    private static let dayNames = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Formats whole seconds since 1970-01-01T00:00:00Z (UTC, proleptic Gregorian).
    public static func format(secondsSince1970: Int64) -> String {
        let days = floorDivide(secondsSince1970, 86_400)
        let secondOfDay = secondsSince1970 - days * 86_400
        let (year, month, day) = civilDate(daysSince1970: days)
        let weekday = Int((days % 7 + 11) % 7) // 1970-01-01 was a Thursday (index 4).
        func twoDigits(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(dayNames[weekday]), \(twoDigits(day)) \(monthNames[Int(month) - 1]) \(year) "
            + "\(twoDigits(secondOfDay / 3600)):\(twoDigits(secondOfDay / 60 % 60)):\(twoDigits(secondOfDay % 60)) GMT"
    }

    /// Year, month (1–12) and day (1–31) of a day count since 1970, after Howard Hinnant's
    /// `civil_from_days`.
    static func civilDate(daysSince1970: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = daysSince1970 + 719_468
        let era = floorDivide(shifted, 146_097)
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthFromMarch = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
        let month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
        value >= 0 ? value / divisor : -((-value + divisor - 1) / divisor)
    }
}
