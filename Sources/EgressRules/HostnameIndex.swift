/// The index of hostname rules (exact names and globs) of a ``RuleTable``.
///
/// - Exact names are keyed by a hash of the whole name (read backwards, so that the same pass
///   that hashes the query's suffixes yields it) and the port.
/// - A glob with a literal suffix after its last `*` or a literal prefix before its first `*` is
///   keyed by one of them (and the port): the side whose chain is shorter at registration, the
///   longer literal on a tie. A lookup hashes the query's suffixes and its prefixes incrementally,
///   one pass each, and probes only where a literal of that length with that boundary byte occurs
///   (see ``GlobLiteralIndex``).
/// - Globs with neither (`*`, `*foo*`) are keyed by port alone; a lookup walks that chain in
///   order. This is the one part whose cost grows with the number of such rules at a port, and
///   only `*` itself is expected to be common (there is at most one per port).
///
/// Every candidate is verified with a real comparison or glob match, and chains are in
/// registration order, so a lookup stops at the first candidate that cannot beat the best so far.
struct HostnameIndex: Sendable {
    /// Which literal a glob is keyed by, with the literal's length and inner boundary byte.
    private enum GlobKey {
        case suffix(length: Int, boundary: UInt8)
        case prefix(length: Int, boundary: UInt8)
        case unanchored
    }

    private var patternBytes: [UInt8] = []
    private var exact = CandidateTable<HostnamePattern>()
    private var bySuffix = GlobLiteralIndex()
    private var byPrefix = GlobLiteralIndex()
    private var unanchored = CandidateTable<HostnamePattern>()

    /// Adds an exact, lower-case name.
    mutating func insert(name: String, port: UInt16, position: Int32) {
        let pattern = store(name, port: port)
        let key = withBytes(of: pattern) { bytes in
            HostnameBytes.key(
                hash: HostnameBytes.suffixHash(bytes, length: bytes.count), length: bytes.count, port: port)
        }
        exact.append(key, pattern, position: position)
    }

    /// Adds a lower-case glob with runs of `*` collapsed.
    mutating func insert(glob: String, port: UInt16, position: Int32) {
        let pattern = store(glob, port: port)
        let (key, side) = withBytes(of: pattern) { chooseKey(forGlob: $0, port: port) }
        switch side {
        case .suffix(let length, let boundary):
            bySuffix.append(key, pattern, length: length, boundary: boundary, position: position)
        case .prefix(let length, let boundary):
            byPrefix.append(key, pattern, length: length, boundary: boundary, position: position)
        case .unanchored:
            unanchored.append(key, pattern, position: position)
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
            let suffixEnd = exact.isEmpty ? min(count, bySuffix.longest) : count
            if suffixEnd > 0 {
                for length in 1...suffixEnd {
                    let byte = HostnameBytes.fold(hostname[count - length])
                    hash = HostnameBytes.hash(hash, appending: byte)
                    if length <= bySuffix.longest && bySuffix.mayHold(length: length, boundary: byte, below: best) {
                        let key = HostnameBytes.key(hash: hash, length: length, port: port)
                        best = scan(bySuffix.table, key, store, hostname, port, best, HostnameBytes.globMatches)
                    }
                }
            }
            if suffixEnd == count && !exact.isEmpty {
                let key = HostnameBytes.key(hash: hash, length: count, port: port)
                best = scan(exact, key, store, hostname, port, best, HostnameBytes.equals)
            }
            hash = HostnameBytes.emptyHash
            let prefixEnd = min(count, byPrefix.longest)
            if prefixEnd > 0 {
                for length in 1...prefixEnd {
                    let byte = HostnameBytes.fold(hostname[length - 1])
                    hash = HostnameBytes.hash(hash, appending: byte)
                    if byPrefix.mayHold(length: length, boundary: byte, below: best) {
                        let key = HostnameBytes.key(hash: hash, length: length, port: port)
                        best = scan(byPrefix.table, key, store, hostname, port, best, HostnameBytes.globMatches)
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
            // Stars are collapsed, so the one unanchored pattern of length 1 is `*`.
            if candidate.payload.port == port && candidate.payload.count == 1 { return candidate.position }
            index = candidate.next
        }
        return best
    }

    /// Walks the chain for `key` while positions can beat `best`; returns the first position
    /// whose pattern `matches` the hostname at `port`, or `best`.
    @inline(__always)
    private func scan(
        _ table: CandidateTable<HostnamePattern>, _ key: UInt64, _ store: UTF8Bytes, _ hostname: UTF8Bytes,
        _ port: UInt16, _ best: Int32, _ matches: (UTF8Bytes, UTF8Bytes) -> Bool
    ) -> Int32 {
        var index = table.first(key)
        while index >= 0 {
            let candidate = table.candidates[Int(index)]
            if candidate.position >= best { break }
            let pattern = candidate.payload
            if pattern.port == port && matches(UTF8Bytes(rebasing: store[pattern.range]), hostname) {
                return candidate.position
            }
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
        guard prefixLength > 0 || suffixLength > 0 else { return (suffixKey, .unanchored) }
        let preferPrefix: Bool
        if prefixLength == 0 || suffixLength == 0 {
            preferPrefix = suffixLength == 0
        } else {
            let suffixChain = bySuffix.chainLength(suffixKey)
            let prefixChain = byPrefix.chainLength(prefixKey)
            preferPrefix = prefixChain < suffixChain || (prefixChain == suffixChain && prefixLength > suffixLength)
        }
        if preferPrefix {
            return (prefixKey, .prefix(length: prefixLength, boundary: glob[prefixLength - 1]))
        }
        return (suffixKey, .suffix(length: suffixLength, boundary: glob[glob.count - suffixLength]))
    }

    /// Appends the bytes of a validated name or glob (at most 253 bytes) to `patternBytes`.
    private mutating func store(_ text: String, port: UInt16) -> HostnamePattern {
        let start = patternBytes.count
        patternBytes.append(contentsOf: text.utf8)
        return HostnamePattern(start: Int32(start), count: UInt16(patternBytes.count - start), port: port)
    }

    private func withBytes<Result>(of pattern: HostnamePattern, _ body: (UTF8Bytes) -> Result) -> Result {
        patternBytes.withUnsafeBufferPointer { body(UTF8Bytes(rebasing: $0[pattern.range])) }
    }
}
