/// The index of IP and CIDR rules of a ``RuleTable``.
///
/// Networks are keyed by their masked address, prefix length and port. A lookup masks the query
/// address once for each prefix length that occurs in the index (and can still beat the best
/// match so far) and probes that key, so its cost depends on the number of distinct prefix
/// lengths (at most 33 for IPv4, 129 for IPv6), not on the number of rules.
struct NetworkIndex: Sendable {
    private struct Entry: Sendable {
        var network: IPNetwork
        var port: UInt16
    }

    /// The prefix lengths of one address family that occur, and the lowest position per length.
    private struct Lengths: Sendable {
        private(set) var present: [Int] = []
        private(set) var floor: [Int32]

        init(maximum: Int) {
            floor = [Int32](repeating: .max, count: maximum + 1)
        }

        mutating func note(_ length: Int, position: Int32) {
            if floor[length] == .max {
                present.append(length)
                present.sort(by: >)
            }
            floor[length] = min(floor[length], position)
        }
    }

    private var table = CandidateTable<Entry>()
    private var ipv4Lengths = Lengths(maximum: 32)
    private var ipv6Lengths = Lengths(maximum: 128)

    /// Adds a network rule.
    mutating func insert(_ network: IPNetwork, port: UInt16, position: Int32) {
        table.append(NetworkIndex.key(network, port: port), Entry(network: network, port: port), position: position)
        switch network.address {
        case .v4: ipv4Lengths.note(network.prefixLength, position: position)
        case .v6: ipv6Lengths.note(network.prefixLength, position: position)
        }
    }

    /// The lowest position below `best` of a network rule at `port` that contains `address`,
    /// or `best` if there is none.
    func bestMatch(address: IPAddress, port: UInt16, below best: Int32) -> Int32 {
        switch address.normalized {
        case .v4(let value):
            bestMatch(ipv4Lengths, port: port, below: best) { IPNetwork(ipv4: value, prefixLength: $0) }
        case .v6(let high, let low):
            bestMatch(ipv6Lengths, port: port, below: best) { IPNetwork(ipv6: UInt128(high: high, low: low), prefixLength: $0) }
        }
    }

    /// Probes the network of each length that occurs and can beat `best`.
    @inline(__always)
    private func bestMatch(
        _ lengths: Lengths, port: UInt16, below best: Int32, _ network: (Int) -> IPNetwork
    ) -> Int32 {
        var best = best
        for length in lengths.present where lengths.floor[length] < best {
            let network = network(length)
            var index = table.first(NetworkIndex.key(network, port: port))
            while index >= 0 {
                let candidate = table.candidates[Int(index)]
                if candidate.position >= best { break }
                if candidate.payload.port == port && candidate.payload.network == network {
                    best = candidate.position
                    break
                }
                index = candidate.next
            }
        }
        return best
    }

    /// The key of a network at a port: the IPv4 fields packed exactly, IPv6 mixed into 64 bits.
    @inline(__always)
    private static func key(_ network: IPNetwork, port: UInt16) -> UInt64 {
        let tag = UInt64(network.prefixLength) << 48 | UInt64(port) << 32
        switch network.address {
        case .v4(let value):
            return tag | UInt64(value)
        case .v6(let high, let low):
            return (high &* 0xff51_afd7_ed55_8ccd ^ low) &* 0xc4ce_b9fe_1a85_ec53 ^ tag ^ 1 << 63
        }
    }
}
