import ForwarderCore
import Foundation

/// The simulator's only source of randomness, so one seed decides a whole run.
///
/// The core's SplitMix64 (the forwarder's backoff jitter draws from it too), with the drawing
/// helpers the generator and the mock need.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var generator: SplitMix64

    public var state: UInt64 { generator.state }

    public init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    public mutating func next() -> UInt64 { generator.next() }

    /// An independent stream for a named part of a run, so adding draws in one part does not
    /// shift the numbers every other part sees.
    public func derived(_ label: String) -> SeededRandom {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in label.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        var generator = SeededRandom(seed: state ^ hash)
        _ = generator.next()
        return generator
    }

    /// A uniform double in [0, 1).
    public mutating func unitInterval() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// True with probability `probability`.
    public mutating func chance(_ probability: Double) -> Bool {
        unitInterval() < probability
    }

    /// A standard normal draw (Box–Muller).
    public mutating func standardNormal() -> Double {
        let u1 = max(unitInterval(), 0x1.0p-53)
        let u2 = unitInterval()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// A log-normal draw with the given median and the given 95th percentile.
    public mutating func logNormal(median: Double, percentile95: Double) -> Double {
        let sigma = log(percentile95 / median) / 1.644_853_626_951_472_2
        return median * exp(sigma * standardNormal())
    }
}
