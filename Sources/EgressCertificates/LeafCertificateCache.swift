import Foundation
import Synchronization

/// Minted leaves by name: a bounded least-recently-used cache in front of a ``LeafMinter``.
///
/// Safe to call from any thread. Concurrent requests for the same name mint once (the others wait
/// for that mint); different names mint in parallel. A leaf is minted again when a quarter or
/// less of the minter's ``LeafMinter/validity`` remains, unless it already ends with the CA (a
/// new one could not last longer).
public final class LeafCertificateCache: Sendable {
    /// The minter behind the cache.
    public let minter: LeafMinter
    /// The most leaves kept.
    public let capacity: Int

    private let state: Mutex<State>
    /// When the CA ends: no leaf outlives it.
    private let authorityEnd: Date
    private let mints = Atomic<Int>(0)
    private let hits = Atomic<Int>(0)

    /// A cache of at most `capacity` leaves (at least one).
    public init(minter: LeafMinter, capacity: Int = 1024) {
        self.minter = minter
        self.capacity = max(1, capacity)
        self.state = Mutex(State())
        self.authorityEnd = minter.authority.certificate.notAfter
    }

    /// The leaf for `name` (an SNI or an address), minted on first use.
    public func leaf(for name: String, now: Date = Date()) throws(CertificateError) -> MintedLeaf {
        let leafName = try LeafName(name)
        let slot = state.withLock { $0.slot(for: leafName, capacity: capacity) }
        let renewal = minter.validity / 4
        return try slot.leaf.withLock { (current: inout MintedLeaf?) throws(CertificateError) -> MintedLeaf in
            if let current, current.notAfter.timeIntervalSince(now) > renewal || current.notAfter >= authorityEnd {
                hits.add(1, ordering: .relaxed)
                return current
            }
            let minted = try minter.mint(leafName, now: now)
            mints.add(1, ordering: .relaxed)
            current = minted
            return minted
        }
    }

    /// How many leaves were minted and how many requests the cache answered, since it was made.
    public var statistics: (mints: Int, hits: Int) {
        (mints.load(ordering: .relaxed), hits.load(ordering: .relaxed))
    }

    /// How many names the cache holds now.
    public var count: Int {
        state.withLock { $0.slots.count }
    }
}

/// One name's place in the cache; its own lock serialises minting for that name.
private final class Slot: Sendable {
    let leaf = Mutex<MintedLeaf?>(nil)
}

/// The names and their recency. Eviction scans for the least recently used slot, which costs
/// O(capacity) only on a miss in a full cache, next to a mint that costs far more.
private struct State: ~Copyable {
    var slots: [LeafName: (slot: Slot, lastUse: UInt64)] = [:]
    var clock: UInt64 = 0

    mutating func slot(for name: LeafName, capacity: Int) -> Slot {
        clock += 1
        if let entry = slots[name] {
            slots[name] = (entry.slot, clock)
            return entry.slot
        }
        if slots.count >= capacity, let oldest = slots.min(by: { $0.value.lastUse < $1.value.lastUse }) {
            slots.removeValue(forKey: oldest.key)
        }
        let slot = Slot()
        slots[name] = (slot, clock)
        return slot
    }
}
