import EgressRules

/// A deliberately naive rule table for the property tests: a linear scan in registration order,
/// written without any of the library's matching code (own glob matcher, own name normalisation,
/// own network arithmetic), so that it can disagree with ``RuleTable``.
struct ReferenceRuleTable {
    let defaultPort: UInt16
    private(set) var rules: [(target: RuleTarget, value: Int)] = []

    init(defaultPort: UInt16) {
        self.defaultPort = defaultPort
    }

    mutating func register(_ target: RuleTarget, _ value: Int) {
        let port = target.port ?? defaultPort
        if let index = rules.firstIndex(where: { $0.target.host == target.host && ($0.target.port ?? defaultPort) == port }) {
            rules[index].value = value
        } else {
            rules.append((target, value))
        }
    }

    /// The first rule that matches, as (position, value).
    func match(hostname: String?, address: IPAddress, port: UInt16) -> (position: Int, value: Int)? {
        for (position, rule) in rules.enumerated() where (rule.target.port ?? defaultPort) == port {
            if matches(rule.target.host, hostname: hostname, address: address) {
                return (position, rule.value)
            }
        }
        return nil
    }

    private func matches(_ host: RuleTarget.Host, hostname: String?, address: IPAddress) -> Bool {
        switch host {
        case .name(let name):
            return hostname.map(Self.normalise) == name
        case .glob(let glob):
            guard let hostname else { return glob == "*" }
            return Self.globMatches(Array(glob.utf8), Array(Self.normalise(hostname).utf8))
        case .network(let network):
            return Self.contains(network, address)
        }
    }

    private static func normalise(_ hostname: String) -> String {
        let lower = hostname.lowercased()
        return lower.hasSuffix(".") ? String(lower.dropLast()) : lower
    }

    /// Dynamic programming over (pattern prefix, text prefix) pairs.
    static func globMatches(_ pattern: [UInt8], _ text: [UInt8]) -> Bool {
        var row = [Bool](repeating: false, count: text.count + 1)
        row[0] = true
        for symbol in pattern {
            var next = [Bool](repeating: false, count: text.count + 1)
            if symbol == UInt8(ascii: "*") {
                var seen = false
                for column in 0...text.count {
                    seen = seen || row[column]
                    next[column] = seen
                }
            } else {
                for column in 1...max(1, text.count) where column <= text.count {
                    next[column] = row[column - 1] && text[column - 1] == symbol
                }
            }
            row = next
        }
        return row[text.count]
    }

    /// Bitwise containment on 128-bit values; IPv4 (and mapped IPv6 queries) in their own space.
    private static func contains(_ network: IPNetwork, _ address: IPAddress) -> Bool {
        let (queryIsIPv4, query) = widen(address)
        let (networkIsIPv4, base) = widen(network.address)
        guard queryIsIPv4 == networkIsIPv4 else { return false }
        let bits = networkIsIPv4 ? 32 : 128
        let hostBits = bits - network.prefixLength
        return hostBits == bits || query >> UInt128(hostBits) == base >> UInt128(hostBits)
    }

    private static func widen(_ address: IPAddress) -> (isIPv4: Bool, value: UInt128) {
        switch address {
        case .v4(let value):
            return (true, UInt128(value))
        case .v6(let high, let low):
            let value = UInt128(high) << 64 | UInt128(low)
            let mapped = value & ~UInt128(UInt32.max) == 0xffff_0000_0000
            return mapped ? (true, value & UInt128(UInt32.max)) : (false, value)
        }
    }
}
