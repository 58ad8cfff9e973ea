/// What every fuzz target shares: a property check that stops the run, and a reader that turns
/// the fuzzer's bytes into structured values.

/// Stops the run with `message` when `condition` is false, so libFuzzer saves the input.
///
/// A trap rather than a thrown error: libFuzzer keeps the input that made the process die, and
/// the message says which property broke.
func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
             file: StaticString = #fileID, line: UInt = #line) {
    guard condition() else { fatalError("property broken: \(message())", file: file, line: line) }
}

/// Draws values from the fuzzer's bytes, front to back, with zeros once they run out.
///
/// Structured inputs (a record, a request) come from here, so the fuzzer's mutations move
/// through every field rather than only through text the parsers would refuse at once.
struct FuzzBytes {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var position = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    var isExhausted: Bool { position >= bytes.count }

    mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func uint64() -> UInt64 {
        (0..<8).reduce(UInt64(0)) { value, _ in value << 8 | UInt64(byte()) }
    }

    mutating func int64() -> Int64 { Int64(bitPattern: uint64()) }

    mutating func bool() -> Bool { byte() & 1 == 1 }

    /// An integer in `range`, drawn from eight bytes.
    mutating func int(in range: ClosedRange<Int64>) -> Int64 {
        let span = UInt64(bitPattern: range.upperBound &- range.lowerBound)
        let offset = span == UInt64.max ? uint64() : uint64() % (span + 1)
        return range.lowerBound &+ Int64(bitPattern: offset)
    }

    /// Up to `maximumLength` bytes, the length drawn first.
    mutating func bytes(maximumLength: Int) -> [UInt8] {
        let length = Int(byte()) % (maximumLength + 1)
        return (0..<length).map { _ in byte() }
    }

    /// Text of up to `maximumLength` bytes, with bytes that are not UTF-8 replaced.
    mutating func text(maximumLength: Int) -> String {
        String(decoding: bytes(maximumLength: maximumLength), as: UTF8.self)
    }
}
