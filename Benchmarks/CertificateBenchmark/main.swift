// Prints how fast Egress mints leaf certificates and serves them from its cache.
// Run in release mode: `swift run -c release CertificateBenchmark` (scripts/bench does).

import EgressCertificates
import Foundation

/// Runs `body` `count` times and returns the rate per second.
func rate(_ count: Int, _ body: (Int) throws -> Void) rethrows -> Double {
    let clock = ContinuousClock()
    let elapsed = try clock.measure {
        for index in 0..<count { try body(index) }
    }
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    return Double(count) / seconds
}

func report(_ label: String, _ perSecond: Double) {
    print(label.padding(toLength: 44, withPad: " ", startingAt: 0) + String(format: "%12.0f /s", perSecond))
}

let authority = try CertificateAuthority.generate()
let minter = try LeafMinter(authority: authority)
let names = (0..<100_000).map { "host\($0).bench.example" }

print("Leaf minting (one core, ECDSA P-256 CA and leaf key)")
_ = try rate(200) { _ = try minter.mint(try LeafName(names[$0])) }  // warm-up
report("mint (uncached)", try rate(5_000) { _ = try minter.mint(try LeafName(names[$0])) })

let cache = LeafCertificateCache(minter: minter, capacity: 10_000)
report("cache miss (mint + insert)", try rate(5_000) { _ = try cache.leaf(for: names[$0]) })
report("cache hit (5,000 names)", try rate(1_000_000) { _ = try cache.leaf(for: names[$0 % 5_000]) })

let full = LeafCertificateCache(minter: minter, capacity: 1_000)
for index in 0..<1_000 { _ = try full.leaf(for: names[index]) }
report("cache miss in a full cache (evict + mint)", try rate(3_000) { _ = try full.leaf(for: names[1_000 + $0]) })

let threads = ProcessInfo.processInfo.activeProcessorCount
let concurrent = LeafCertificateCache(minter: minter, capacity: 100_000)
let perThread = 2_000
let start = ContinuousClock.now
DispatchQueue.concurrentPerform(iterations: threads) { thread in
    for index in 0..<perThread {
        _ = try? concurrent.leaf(for: names[50_000 + thread * perThread + index])
    }
}
let elapsed = ContinuousClock.now - start
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
report("mint on \(threads) threads (distinct names)", Double(threads * perThread) / seconds)
