// Lookups per second of `RuleTable.match` for 10, 1,000 and 100,000 mixed rules (exact names,
// globs, IPv4 and IPv6 addresses and networks, with and without ports), hits and misses
// measured separately on one core after a warm-up. Run with `swift run -c release RuleBenchmark`,
// optionally followed by other rule counts.
import EgressRules

/// SplitMix64, so every run measures the same rules and queries.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var mixed = state
        mixed = (mixed ^ mixed >> 30) &* 0xbf58_476d_1ce4_e5b9
        mixed = (mixed ^ mixed >> 27) &* 0x94d0_49bb_1331_11eb
        return mixed ^ mixed >> 31
    }
}

typealias Query = (hostname: String?, address: IPAddress, port: UInt16)

let defaultPort: UInt16 = 443
let otherPorts: [UInt16] = [8443, 8080, 9000]

/// One random rule: its target text and a query that it matches.
func makeRule(_ index: Int, _ random: inout SplitMix) -> (target: String, hit: Query) {
    let port: UInt16? = Int.random(in: 0..<10, using: &random) < 7 ? nil : otherPorts.randomElement(using: &random)
    let portSuffix = port.map { ":\($0)" } ?? ""
    let queryPort = port ?? defaultPort
    let elsewhere = IPAddress(ipv4: 198, 51, 100, 1)
    let label = "n\(index)x\(UInt16.random(in: 0...UInt16.max, using: &random))"
    switch Int.random(in: 0..<100, using: &random) {
    case 0..<40:
        let name = "\(label).example\(index % 97).com"
        return (name + portSuffix, (name.uppercased(), elsewhere, queryPort))
    case 40..<55:
        return ("*.\(label).example.net" + portSuffix, ("www.\(label).example.net", elsewhere, queryPort))
    case 55..<60:
        return ("api-*.\(label).io" + portSuffix, ("api-v2.\(label).io", elsewhere, queryPort))
    case 60..<65:
        return ("\(label)-*" + portSuffix, ("\(label)-cdn.example.org", elsewhere, queryPort))
    case 65..<85:
        let length = [16, 20, 24, 28, 32].randomElement(using: &random) ?? 32
        let base = UInt32.random(in: 0...UInt32.max, using: &random) & 0x7fff_ffff | 0x0100_0000
        let network = IPNetwork(address: .v4(base), prefixLength: length) ?? IPNetwork(singleAddress: .v4(base))
        let text = network.isSingleAddress ? "\(network.address)" : "\(network)"
        return (text + portSuffix, (nil, .v4(base), queryPort))
    default:
        let length = [32, 48, 56, 64, 128].randomElement(using: &random) ?? 128
        let base = 0x2001_0db8 << 96 | UInt128.random(in: 0..<(1 << 96), using: &random)
        let network = IPNetwork(address: .v6(base), prefixLength: length) ?? IPNetwork(singleAddress: .v6(base))
        let text = network.isSingleAddress ? "\(network.address)" : "\(network)"
        return ((port == nil ? text : "[\(text)]") + portSuffix, ("host.\(label).example", .v6(base), queryPort))
    }
}

/// A query that matches no rule: unknown names, addresses outside every rule, and both.
func makeMiss(_ index: Int, _ random: inout SplitMix) -> Query {
    let hostname = "miss\(index).nowhere\(index % 13).org"
    let port = Int.random(in: 0..<10, using: &random) < 7 ? defaultPort : otherPorts[index % otherPorts.count]
    if index % 2 == 0 {
        return (hostname, IPAddress(ipv4: 203, 0, 113, UInt8(truncatingIfNeeded: index)), port)
    }
    return (index % 4 == 1 ? nil : hostname, .v6(0xfd00 << 112 | UInt128(index)), port)
}

/// Runs the queries round-robin for about `seconds` and returns lookups per second.
func measure(_ table: RuleTable<Int>, _ queries: [Query], seconds: Double, checksum: inout Int) -> Double {
    let clock = ContinuousClock()
    var lookups = 0
    let start = clock.now
    let budget = Duration.milliseconds(Int(seconds * 1000))
    var elapsed = Duration.zero
    while elapsed < budget {
        for query in queries {
            checksum &+= table.match(hostname: query.hostname, address: query.address, port: query.port)?.position ?? -1
        }
        lookups += queries.count
        elapsed = clock.now - start
    }
    let components = elapsed.components
    return Double(lookups) / (Double(components.seconds) + Double(components.attoseconds) * 1e-18)
}

/// The best and the median rate of `rounds` measurements: on a shared machine the best is the
/// closest to the undisturbed figure, the median shows how much other load there was.
func measureRounds(
    _ table: RuleTable<Int>, _ queries: [Query], rounds: Int = 7, checksum: inout Int
) -> (best: Double, median: Double) {
    let rates = (0..<rounds).map { _ in measure(table, queries, seconds: 0.25, checksum: &checksum) }.sorted()
    return (rates[rates.count - 1], rates[rates.count / 2])
}

func formatted(_ rate: Double) -> String {
    let text = String(Int(rate))
    var grouped = ""
    for (offset, character) in text.reversed().enumerated() {
        if offset > 0 && offset % 3 == 0 { grouped.append(",") }
        grouped.append(character)
    }
    return String(grouped.reversed())
}

var checksum = 0
print("lookups per second on one core, best and median of 7 rounds of 0.25 s")
print("rules     build ms  hits best    hits median  misses best  misses median")
let requestedCounts = CommandLine.arguments.dropFirst().compactMap { Int($0) }
for ruleCount in requestedCounts.isEmpty ? [10, 1_000, 100_000] : requestedCounts {
    var random = SplitMix(state: UInt64(ruleCount))
    var table = RuleTable<Int>(defaultPort: defaultPort)
    var hits: [Query] = []
    let buildStart = ContinuousClock.now
    for index in 0..<ruleCount {
        let rule = makeRule(index, &random)
        do {
            table.register(try RuleTarget(parsing: rule.target), index)
        } catch {
            fatalError("benchmark rule refused: \(error)")
        }
        hits.append(rule.hit)
    }
    let buildTime = ContinuousClock.now - buildStart
    hits = (0..<4096).map { hits[$0 * 7919 % hits.count] }
    let misses = (0..<4096).map { makeMiss($0, &random) }
    for query in misses where table.match(hostname: query.hostname, address: query.address, port: query.port) != nil {
        fatalError("a miss query matched: \(query)")
    }
    for query in hits where table.match(hostname: query.hostname, address: query.address, port: query.port) == nil {
        fatalError("a hit query missed: \(query)")
    }
    _ = measure(table, hits + misses, seconds: 0.3, checksum: &checksum)
    let hitRate = measureRounds(table, hits, checksum: &checksum)
    let missRate = measureRounds(table, misses, checksum: &checksum)
    let buildMilliseconds = Double(buildTime.components.attoseconds) * 1e-15 + Double(buildTime.components.seconds) * 1e3
    print(
        String(ruleCount).padding(10) + String(Int(buildMilliseconds)).padding(10)
            + formatted(hitRate.best).padding(13) + formatted(hitRate.median).padding(13)
            + formatted(missRate.best).padding(13) + formatted(missRate.median))
}
print("checksum \(checksum)")

extension String {
    func padding(_ width: Int) -> String {
        self + String(repeating: " ", count: max(1, width - count))
    }
}
