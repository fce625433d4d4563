/// Where a hostname pattern's lower-case bytes live in the index's byte store, and its port.
struct HostnamePattern: Sendable {
    /// The offset of the first byte.
    var start: Int32
    /// The number of bytes (at most 253).
    var count: UInt16
    /// The effective port of the rule.
    var port: UInt16

    /// The bytes' range in the store.
    var range: Range<Int> { Int(start)..<Int(start) + Int(count) }
}

/// Globs keyed by one literal end: the suffix after the last `*`, or the prefix before the first.
///
/// Besides the keyed chains it keeps a filter that lets a lookup skip most lengths without
/// touching the table: for each literal length that occurs, the lowest position of such a glob
/// and the set of bytes at the literal's inner boundary (the first byte of a suffix, the last of
/// a prefix). Suffixes such as `.example.com` all start with `.`, prefixes such as `api-` end in
/// `-` or `.`, so a query is probed at a handful of lengths rather than at every one.
struct GlobLiteralIndex: Sendable {
    /// The longest literal length a hostname can have.
    static let lengthLimit = 253

    /// The globs, keyed by literal hash, length and port.
    private(set) var table = CandidateTable<HostnamePattern>()
    private var floor = [Int32](repeating: .max, count: lengthLimit + 1)
    private var boundaryBytes = [UInt64](repeating: 0, count: 4 * (lengthLimit + 1))
    /// The longest literal in the index, 0 when it is empty.
    private(set) var longest = 0

    /// Adds a glob keyed by a literal of `length` bytes (1 to 253) whose inner boundary byte is
    /// `boundary`.
    mutating func append(_ key: UInt64, _ pattern: HostnamePattern, length: Int, boundary: UInt8, position: Int32) {
        table.append(key, pattern, position: position)
        floor[length] = min(floor[length], position)
        boundaryBytes[4 * length + Int(boundary >> 6)] |= 1 << (boundary & 63)
        longest = max(longest, length)
    }

    /// Whether a literal of `length` bytes whose inner boundary is `boundary` may be in the index
    /// at a position below `best`. `length` must be in 1...``longest``.
    @inline(__always)
    func mayHold(length: Int, boundary: UInt8, below best: Int32) -> Bool {
        floor[length] < best && boundaryBytes[4 * length + Int(boundary >> 6)] & 1 << (boundary & 63) != 0
    }

    /// The number of globs already keyed by `key`.
    func chainLength(_ key: UInt64) -> Int {
        table.chainLength(key)
    }
}
