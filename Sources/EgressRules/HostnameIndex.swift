/// The index of hostname rules (exact names and globs) of a ``RuleTable``.
///
/// - Exact names are keyed by the hash of the whole name and the port.
/// - A glob with a literal suffix after its last `*` or a literal prefix before its first `*` is
///   keyed by one of them (and the port): the side whose chain is shorter at registration,
///   the longer literal on a tie. A lookup probes only the suffix and prefix lengths that occur,
///   hashing the query's suffixes and prefixes incrementally in one pass each.
/// - Globs with neither (`*`, `*foo*`) are keyed by port alone.
///
/// Every candidate is verified with a real comparison or glob match, and chains are in
/// registration order, so a lookup stops at the first candidate that cannot beat the best so far.
struct HostnameIndex: Sendable {
    /// Where a pattern's lower-case bytes live in `patternBytes`, and its port.
    private struct Pattern: Sendable {
        var start: Int
        var count: Int
        var port: UInt16
    }

    /// Which literal a glob is keyed by.
    private enum GlobKey {
        case suffix(length: Int)
        case prefix(length: Int)
        case unanchored
    }

    private var patternBytes: [UInt8] = []
    private var patterns: [Pattern] = []
    private var exact = CandidateTable()
    private var bySuffix = CandidateTable()
    private var byPrefix = CandidateTable()
    private var unanchored = CandidateTable()
    /// For each literal length, the lowest position keyed by a literal of that length, or
    /// `Int32.max`; a lookup skips lengths that cannot beat its best.
    private var suffixLengthFloor = [Int32](repeating: .max, count: 256)
    private var prefixLengthFloor = [Int32](repeating: .max, count: 256)
    private var longestSuffix = 0
    private var longestPrefix = 0

    /// Adds an exact, lower-case name.
    mutating func insert(name: String, port: UInt16, position: Int32) {
        let item = store(name, port: port)
        let key = withPattern(item) { bytes in
            HostnameBytes.key(
                hash: HostnameBytes.suffixHash(bytes, length: bytes.count), length: bytes.count, port: port)
        }
        exact.append(key, item: item, position: position)
    }

    /// Adds a lower-case glob with runs of `*` collapsed.
    mutating func insert(glob: String, port: UInt16, position: Int32) {
        let item = store(glob, port: port)
        let (key, side) = withPattern(item) { chooseKey(forGlob: $0, port: port) }
        switch side {
        case .suffix(let length):
            bySuffix.append(key, item: item, position: position)
            suffixLengthFloor[length] = min(suffixLengthFloor[length], position)
            longestSuffix = max(longestSuffix, length)
        case .prefix(let length):
            byPrefix.append(key, item: item, position: position)
            prefixLengthFloor[length] = min(prefixLengthFloor[length], position)
            longestPrefix = max(longestPrefix, length)
        case .unanchored:
            unanchored.append(key, item: item, position: position)
        }
    }

    /// The lowest position below `best` of a rule that matches `hostname` (raw bytes: any case,
    /// an optional trailing dot) at `port`, or `best` if there is none.
    func bestMatch(hostname raw: UTF8Bytes, port: UInt16, below best: Int32) -> Int32 {
        let hostname = raw.last == UInt8(ascii: ".") ? UTF8Bytes(rebasing: raw.dropLast()) : raw
        return patternBytes.withUnsafeBufferPointer { store in
            var best = best
            let count = hostname.count
            var hash = HostnameBytes.emptyHash
            let suffixEnd = exact.isEmpty ? min(count, longestSuffix) : count
            if suffixEnd > 0 {
                for length in 1...suffixEnd {
                    hash = HostnameBytes.hash(hash, appending: HostnameBytes.fold(hostname[count - length]))
                    if length <= longestSuffix && suffixLengthFloor[length] < best {
                        let key = HostnameBytes.key(hash: hash, length: length, port: port)
                        best = scan(bySuffix, key, store, hostname, port, best, HostnameBytes.globMatches)
                    }
                }
            }
            if suffixEnd == count && !exact.isEmpty {
                let key = HostnameBytes.key(hash: hash, length: count, port: port)
                best = scan(exact, key, store, hostname, port, best, HostnameBytes.equals)
            }
            hash = HostnameBytes.emptyHash
            let prefixEnd = min(count, longestPrefix)
            if prefixEnd > 0 {
                for length in 1...prefixEnd {
                    hash = HostnameBytes.hash(hash, appending: HostnameBytes.fold(hostname[length - 1]))
                    if prefixLengthFloor[length] < best {
                        let key = HostnameBytes.key(hash: hash, length: length, port: port)
                        best = scan(byPrefix, key, store, hostname, port, best, HostnameBytes.globMatches)
                    }
                }
            }
            let key = HostnameBytes.key(hash: HostnameBytes.emptyHash, length: 0, port: port)
            return scan(unanchored, key, store, hostname, port, best, HostnameBytes.globMatches)
        }
    }

    /// The lowest position below `best` of a `*` rule at `port`, the only hostname rule that a
    /// query without a hostname matches; `best` if there is none.
    func bestMatchWithoutHostname(port: UInt16, below best: Int32) -> Int32 {
        let key = HostnameBytes.key(hash: HostnameBytes.emptyHash, length: 0, port: port)
        var index = unanchored.first(key)
        while index >= 0 {
            let candidate = unanchored.candidates[Int(index)]
            if candidate.position >= best { break }
            let pattern = patterns[Int(candidate.item)]
            // Stars are collapsed, so the one unanchored pattern of length 1 is `*`.
            if pattern.port == port && pattern.count == 1 { return candidate.position }
            index = candidate.next
        }
        return best
    }

    /// Walks the chain for `key` while positions can beat `best`; returns the first position
    /// whose pattern `matches` the hostname at `port`, or `best`.
    @inline(__always)
    private func scan(
        _ table: CandidateTable, _ key: UInt64, _ store: UTF8Bytes, _ hostname: UTF8Bytes,
        _ port: UInt16, _ best: Int32, _ matches: (UTF8Bytes, UTF8Bytes) -> Bool
    ) -> Int32 {
        var index = table.first(key)
        while index >= 0 {
            let candidate = table.candidates[Int(index)]
            if candidate.position >= best { break }
            let pattern = patterns[Int(candidate.item)]
            let bytes = UTF8Bytes(rebasing: store[pattern.start..<pattern.start + pattern.count])
            if pattern.port == port && matches(bytes, hostname) { return candidate.position }
            index = candidate.next
        }
        return best
    }

    /// The key of a glob and the literal it is keyed by.
    private func chooseKey(forGlob glob: UTF8Bytes, port: UInt16) -> (UInt64, GlobKey) {
        let star = UInt8(ascii: "*")
        let prefixLength = glob.firstIndex(of: star) ?? glob.count
        let suffixLength = glob.count - 1 - (glob.lastIndex(of: star) ?? -1)
        let suffixKey = HostnameBytes.key(
            hash: HostnameBytes.suffixHash(glob, length: suffixLength), length: suffixLength, port: port)
        let prefixKey = HostnameBytes.key(
            hash: HostnameBytes.prefixHash(glob, length: prefixLength), length: prefixLength, port: port)
        switch (prefixLength, suffixLength) {
        case (0, 0):
            return (suffixKey, .unanchored)
        case (0, _):
            return (suffixKey, .suffix(length: suffixLength))
        case (_, 0):
            return (prefixKey, .prefix(length: prefixLength))
        default:
            let suffixChain = bySuffix.chainLength(suffixKey)
            let prefixChain = byPrefix.chainLength(prefixKey)
            if prefixChain < suffixChain || (prefixChain == suffixChain && prefixLength > suffixLength) {
                return (prefixKey, .prefix(length: prefixLength))
            }
            return (suffixKey, .suffix(length: suffixLength))
        }
    }

    private mutating func store(_ text: String, port: UInt16) -> Int32 {
        let start = patternBytes.count
        patternBytes.append(contentsOf: text.utf8)
        patterns.append(Pattern(start: start, count: patternBytes.count - start, port: port))
        return Int32(patterns.count - 1)
    }

    private func withPattern<Result>(_ item: Int32, _ body: (UTF8Bytes) -> Result) -> Result {
        let pattern = patterns[Int(item)]
        return patternBytes.withUnsafeBufferPointer {
            body(UTF8Bytes(rebasing: $0[pattern.start..<pattern.start + pattern.count]))
        }
    }
}
