import EgressCertificates
import EgressTesting
import Foundation
import Testing

@Suite struct LeafCertificateCacheTests {
    let minter: LeafMinter

    init() throws {
        minter = try LeafMinter(authority: try CertificateAuthority.generate())
    }

    @Test func repeatedNamesAreServedFromTheCache() throws {
        let cache = LeafCertificateCache(minter: minter)
        let first = try cache.leaf(for: "example.com")
        let second = try cache.leaf(for: "EXAMPLE.com.")
        #expect(first === second)
        #expect(cache.statistics.mints == 1)
        #expect(cache.statistics.hits == 1)
    }

    @Test func leastRecentlyUsedNameIsEvicted() throws {
        let cache = LeafCertificateCache(minter: minter, capacity: 2)
        let a = try cache.leaf(for: "a.example")
        _ = try cache.leaf(for: "b.example")
        _ = try cache.leaf(for: "a.example")  // b is now the least recently used
        _ = try cache.leaf(for: "c.example")
        #expect(cache.count == 2)
        #expect(try cache.leaf(for: "a.example") === a)
        #expect(cache.statistics.mints == 3)
        _ = try cache.leaf(for: "b.example")
        #expect(cache.statistics.mints == 4)
    }

    @Test func concurrentRequestsForOneNameMintOnce() async throws {
        let cache = LeafCertificateCache(minter: minter)
        let serials = try await withThrowingTaskGroup(of: ObjectIdentifier.self) { group in
            for _ in 0..<64 {
                group.addTask { ObjectIdentifier(try cache.leaf(for: "busy.example")) }
            }
            return try await group.reduce(into: Set<ObjectIdentifier>()) { $0.insert($1) }
        }
        #expect(serials.count == 1)
        #expect(cache.statistics.mints == 1)
        #expect(cache.statistics.hits == 63)
    }

    @Test func differentNamesMintConcurrently() async throws {
        let cache = LeafCertificateCache(minter: minter)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<32 {
                group.addTask { _ = try cache.leaf(for: "host\(index % 8).example") }
            }
            try await group.waitForAll()
        }
        #expect(cache.statistics.mints == 8)
        #expect(cache.count == 8)
    }

    @Test func leavesNearTheirEndAreMintedAgain() throws {
        let cache = LeafCertificateCache(minter: minter)
        let now = Date()
        let first = try cache.leaf(for: "example.com", now: now)
        let later = now.addingTimeInterval(minter.validity * 0.8)
        let renewed = try cache.leaf(for: "example.com", now: later)
        #expect(first !== renewed)
        #expect(renewed.certificate.notAfter > first.certificate.notAfter)
        let kept = try cache.leaf(for: "example.com", now: later.addingTimeInterval(minter.validity * 0.7))
        #expect(kept === renewed, "kept while more than a quarter of its validity remains")
    }

    /// Leaves of a CA about to end end with it; minting again cannot make them last longer, so
    /// the cache keeps them instead of minting on every call.
    @Test func leavesCappedByTheCAAreNotMintedOnEveryCall() throws {
        let cache = LeafCertificateCache(minter: minter)
        let nearTheEnd = minter.authority.certificate.notAfter.addingTimeInterval(-3600)
        let first = try cache.leaf(for: "example.com", now: nearTheEnd)
        let second = try cache.leaf(for: "example.com", now: nearTheEnd.addingTimeInterval(60))
        #expect(first === second)
        #expect(cache.statistics.mints == 1)
    }

    @Test func invalidNamesAreRefusedAndNotCached() throws {
        let cache = LeafCertificateCache(minter: minter)
        #expect(throws: CertificateError.self) { try cache.leaf(for: "bad name") }
        #expect(cache.count == 0)
    }
}
