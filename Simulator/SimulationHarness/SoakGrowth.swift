import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One look at the forwarder process right after a pass finished.
public struct SoakSample: Sendable, Hashable {
    /// The pass the sample follows, from 1.
    public var pass: Int
    /// Since the forwarder started.
    public var elapsed: Duration
    /// `VmRSS` of `/proc/PID/status`: what the verdict judges.
    public var residentKilobytes: Int
    /// `RssAnon` of `/proc/PID/status`: the heap and stacks without the executable's pages, which
    /// come and go with the machine's memory pressure; shown to tell a leak from paging.
    public var anonymousKilobytes: Int
    /// Entries of `/proc/PID/fd`.
    public var openDescriptors: Int
    public var serverEvents: Int

    public init(pass: Int, elapsed: Duration, residentKilobytes: Int, anonymousKilobytes: Int = 0, openDescriptors: Int,
                serverEvents: Int) {
        self.pass = pass
        self.elapsed = elapsed
        self.residentKilobytes = residentKilobytes
        self.anonymousKilobytes = anonymousKilobytes
        self.openDescriptors = openDescriptors
        self.serverEvents = serverEvents
    }
}

/// How much one measure grew between the start and the end of a soak, after warm-up.
public struct SoakGrowth: Sendable, Hashable {
    /// Median over the first window after warm-up.
    public var baseline: Double
    /// Median over the last window.
    public var end: Double
    /// The most `end` may exceed `baseline` by.
    public var allowance: Double

    public var growth: Double { end - baseline }
    public var growthPercent: Double { baseline > 0 ? growth / baseline * 100 : 0 }
    public var withinAllowance: Bool { growth <= allowance }
}

/// Decides whether a soak's samples show a leak.
///
/// The first `warmUpShare` of the samples are left out: caches, connection pools and the state
/// settle there. The rest is compared window against window: the median of the first
/// `windowShare` after warm-up against the median of the last `windowShare`. Medians, because
/// one sample may land on a transient (a burst of uploads, a compaction) that says nothing about
/// a leak, while a leak moves every sample of the last window; windows, because the first and
/// last single samples are exactly such transients as often as not.
public struct SoakGrowthRule: Sendable, Hashable {
    public var warmUpShare: Double
    public var windowShare: Double
    /// Growth allowed, as a share of the baseline.
    public var allowedGrowthShare: Double
    /// Descriptors a healthy forwarder may hold more or fewer from one pass to the next (its
    /// pooled server connections): a share of a dozen descriptors is less than one, so the
    /// descriptor allowance is never below this.
    public var descriptorSlack: Int
    /// Fewest samples a window holds, whatever the shares say.
    public static let minimumWindowSamples = 3

    public init(warmUpShare: Double = 0.2, windowShare: Double = 0.1, allowedGrowthShare: Double = 0.05,
                descriptorSlack: Int = 2) {
        self.warmUpShare = warmUpShare
        self.windowShare = windowShare
        self.allowedGrowthShare = allowedGrowthShare
        self.descriptorSlack = descriptorSlack
    }

    /// Samples needed for a verdict: warm-up and two windows that do not overlap.
    public func minimumSampleCount(forPasses passes: Int) -> Int {
        warmUpCount(passes) + 2 * windowCount(passes)
    }

    func warmUpCount(_ count: Int) -> Int { Int((Double(count) * warmUpShare).rounded(.up)) }
    func windowCount(_ count: Int) -> Int { max(Self.minimumWindowSamples, Int((Double(count) * windowShare).rounded(.up))) }

    /// Growth of resident memory and of descriptors, or nil when there are too few samples.
    public func assess(_ samples: [SoakSample]) -> (resident: SoakGrowth, descriptors: SoakGrowth)? {
        let warmUp = warmUpCount(samples.count)
        let window = windowCount(samples.count)
        guard samples.count >= warmUp + 2 * window else { return nil }
        let first = samples[warmUp..<warmUp + window]
        let last = samples.suffix(window)
        func growth(_ value: (SoakSample) -> Int, minimumAllowance: Double) -> SoakGrowth {
            let baseline = Self.median(first.map(value))
            return SoakGrowth(baseline: baseline, end: Self.median(last.map(value)),
                              allowance: max(baseline * allowedGrowthShare, minimumAllowance))
        }
        return (growth(\.residentKilobytes, minimumAllowance: 0),
                growth(\.openDescriptors, minimumAllowance: Double(descriptorSlack)))
    }

    static func median(_ values: [Int]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? Double(sorted[middle]) : Double(sorted[middle - 1] + sorted[middle]) / 2
    }
}

/// Reads a process's resident memory and open descriptors from `/proc` (Linux only).
public enum ProcessSampler {
    /// `VmRSS` in kilobytes, nil when the process is gone or `/proc` has no such line.
    public static func residentKilobytes(of pid: pid_t) -> Int? { statusKilobytes("VmRSS:", of: pid) }

    /// `RssAnon` in kilobytes, nil when the process is gone or `/proc` has no such line.
    public static func anonymousKilobytes(of pid: pid_t) -> Int? { statusKilobytes("RssAnon:", of: pid) }

    private static func statusKilobytes(_ key: String, of pid: pid_t) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix(key) }) else { return nil }
        return line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int($0) }
    }

    /// Entries of `/proc/PID/fd`, nil when the process is gone.
    public static func openDescriptors(of pid: pid_t) -> Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count
    }
}
