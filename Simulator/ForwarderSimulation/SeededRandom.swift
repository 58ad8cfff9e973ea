import Foundation

/// SplitMix64: the simulator's only source of randomness, so one seed decides a whole run.
///
/// Small, fast and stable across platforms and Swift versions, unlike the system generator.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }

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
