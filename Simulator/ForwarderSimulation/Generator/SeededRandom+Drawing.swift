/// Draws the generator needs, written out here so that results do not depend on how the
/// standard library's `random(in:using:)` happens to be implemented in a given Swift release.
extension SeededRandom {
    /// A uniform integer in `range` (modulo bias is negligible for the small ranges used).
    mutating func integer(in range: ClosedRange<Int>) -> Int {
        let width = UInt64(range.upperBound - range.lowerBound) + 1
        return range.lowerBound + Int(next() % width)
    }

    /// A uniform duration in `range`, at nanosecond resolution.
    mutating func duration(in range: ClosedRange<Duration>) -> Duration {
        let low = range.lowerBound.wholeNanoseconds
        let width = range.upperBound.wholeNanoseconds - low
        return .nanoseconds(low + Int64(unitInterval() * Double(width)))
    }

    /// One element of a non-empty array, uniformly.
    mutating func element<Element>(of elements: [Element]) -> Element {
        elements[integer(in: 0...(elements.count - 1))]
    }

    /// One element of a non-empty list of weighted choices.
    mutating func weighted<Element>(_ choices: [(element: Element, weight: Double)]) -> Element {
        let total = choices.reduce(0) { $0 + $1.weight }
        var remaining = unitInterval() * total
        for choice in choices {
            remaining -= choice.weight
            if remaining < 0 { return choice.element }
        }
        return choices[choices.count - 1].element
    }
}
