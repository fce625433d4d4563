/// An open-addressing hash table from 64-bit keys to chains of candidates, the building block of
/// the rule indexes.
///
/// Each chain lists candidates in the order they were appended, which the rule table keeps equal
/// to registration order, so a lookup can stop at the first candidate whose position cannot beat
/// the best match found so far. Keys may collide (two literals with one hash): callers verify
/// every candidate against its payload. Probing reads only a dense array of keys, so that a miss
/// touches as little memory as possible. Lookups do not allocate.
struct CandidateTable<Payload: Sendable>: Sendable {
    /// One entry of a chain.
    struct Candidate: Sendable {
        /// What the caller verifies a match against.
        var payload: Payload
        /// The rule's registration position.
        var position: Int32
        /// The next candidate of the same chain, or -1.
        var next: Int32
    }

    private struct Chain: Sendable {
        var head: Int32
        var tail: Int32
        var count: Int32
    }

    /// Stored keys; 0 marks an empty slot, so key 0 is stored as 1 (and verified like any other).
    private var keys = [UInt64](repeating: 0, count: 16)
    private var chains = [Chain](repeating: Chain(head: -1, tail: -1, count: 0), count: 16)
    private var occupied = 0
    /// All candidates; chains link through `next`.
    private(set) var candidates: [Candidate] = []

    /// Whether no candidate was appended.
    var isEmpty: Bool { candidates.isEmpty }

    /// The first candidate of the chain for `key`, or -1.
    @inline(__always)
    func first(_ key: UInt64) -> Int32 {
        let stored = max(key, 1)
        return keys.withUnsafeBufferPointer { keys in
            let mask = keys.count - 1
            var index = CandidateTable.home(of: stored, mask: mask)
            while true {
                let found = keys[index]
                if found == stored { return chains[index].head }
                if found == 0 { return -1 }
                index = (index + 1) & mask
            }
        }
    }

    /// The number of candidates in the chain for `key`.
    func chainLength(_ key: UInt64) -> Int {
        Int(chains[slotIndex(max(key, 1))].count)
    }

    /// Appends a candidate to the end of the chain for `key`.
    mutating func append(_ key: UInt64, _ payload: Payload, position: Int32) {
        let stored = max(key, 1)
        if 2 * (occupied + 1) > keys.count {
            grow()
        }
        let candidate = Int32(candidates.count)
        candidates.append(Candidate(payload: payload, position: position, next: -1))
        let index = slotIndex(stored)
        if keys[index] == 0 {
            keys[index] = stored
            chains[index] = Chain(head: candidate, tail: candidate, count: 1)
            occupied += 1
        } else {
            candidates[Int(chains[index].tail)].next = candidate
            chains[index].tail = candidate
            chains[index].count += 1
        }
    }

    /// The slot that holds the stored key, or the empty slot where it would go.
    private func slotIndex(_ stored: UInt64) -> Int {
        let mask = keys.count - 1
        var index = CandidateTable.home(of: stored, mask: mask)
        while keys[index] != 0 && keys[index] != stored {
            index = (index + 1) & mask
        }
        return index
    }

    private mutating func grow() {
        let oldKeys = keys
        let oldChains = chains
        keys = [UInt64](repeating: 0, count: oldKeys.count * 2)
        chains = [Chain](repeating: Chain(head: -1, tail: -1, count: 0), count: oldKeys.count * 2)
        for (key, chain) in zip(oldKeys, oldChains) where key != 0 {
            let index = slotIndex(key)
            keys[index] = key
            chains[index] = chain
        }
    }

    /// The first slot to try for a key: Fibonacci hashing, taking the well-mixed high bits.
    @inline(__always)
    private static func home(of key: UInt64, mask: Int) -> Int {
        let mixed = (key ^ key >> 29) &* 0x9e37_79b9_7f4a_7c15
        return Int(truncatingIfNeeded: mixed >> 32) & mask
    }
}
