/// An open-addressing hash table from 64-bit keys to chains of candidates, the building block of
/// the rule indexes.
///
/// Each chain lists candidates in the order they were appended, which the rule table keeps equal
/// to registration order, so a lookup can stop at the first candidate whose position cannot beat
/// the best match found so far. Keys may collide (two literals with one hash): callers verify
/// every candidate. Lookups do not allocate.
struct CandidateTable: Sendable {
    /// One entry of a chain.
    struct Candidate: Sendable {
        /// What the caller stores: an index into its own arrays.
        var item: Int32
        /// The rule's registration position.
        var position: Int32
        /// The next candidate of the same chain, or -1.
        var next: Int32
    }

    private struct Slot: Sendable {
        var key: UInt64 = 0
        var head: Int32 = -1
        var tail: Int32 = -1
        var count: Int32 = 0
    }

    private var slots = [Slot](repeating: Slot(), count: 16)
    private var occupied = 0
    /// All candidates; chains link through `next`.
    private(set) var candidates: [Candidate] = []

    /// Whether no candidate was appended.
    var isEmpty: Bool { candidates.isEmpty }

    /// The first candidate of the chain for `key`, or -1.
    @inline(__always)
    func first(_ key: UInt64) -> Int32 {
        let mask = slots.count - 1
        var index = CandidateTable.home(of: key, mask: mask)
        while true {
            let slot = slots[index]
            if slot.head < 0 { return -1 }
            if slot.key == key { return slot.head }
            index = (index + 1) & mask
        }
    }

    /// The number of candidates in the chain for `key`.
    func chainLength(_ key: UInt64) -> Int {
        let index = slotIndex(key)
        return Int(slots[index].count)
    }

    /// Appends a candidate to the end of the chain for `key`.
    mutating func append(_ key: UInt64, item: Int32, position: Int32) {
        if 2 * (occupied + 1) > slots.count {
            grow()
        }
        let candidate = Int32(candidates.count)
        candidates.append(Candidate(item: item, position: position, next: -1))
        let index = slotIndex(key)
        if slots[index].head < 0 {
            slots[index] = Slot(key: key, head: candidate, tail: candidate, count: 1)
            occupied += 1
        } else {
            candidates[Int(slots[index].tail)].next = candidate
            slots[index].tail = candidate
            slots[index].count += 1
        }
    }

    /// The slot that holds `key`, or the empty slot where it would go.
    private func slotIndex(_ key: UInt64) -> Int {
        let mask = slots.count - 1
        var index = CandidateTable.home(of: key, mask: mask)
        while slots[index].head >= 0 && slots[index].key != key {
            index = (index + 1) & mask
        }
        return index
    }

    private mutating func grow() {
        let old = slots
        slots = [Slot](repeating: Slot(), count: old.count * 2)
        for slot in old where slot.head >= 0 {
            slots[slotIndex(slot.key)] = slot
        }
    }

    /// The first slot to try for `key`: Fibonacci hashing, taking the well-mixed high bits.
    @inline(__always)
    private static func home(of key: UInt64, mask: Int) -> Int {
        let mixed = (key ^ key >> 29) &* 0x9e37_79b9_7f4a_7c15
        return Int(truncatingIfNeeded: mixed >> 32) & mask
    }
}
