/// What a rule is registered for: a hostname, a hostname glob or an IP network, and optionally
/// a port.
///
/// Parse one with ``init(parsing:)``. Accepted forms, shown with their canonical ``description``:
///
/// | text | host | port |
/// | --- | --- | --- |
/// | `Example.COM.` | `.name("example.com")` | nil |
/// | `example.com:8080` | `.name("example.com")` | 8080 |
/// | `*.example.com`, `api-*.example.com`, `*`, `a*b*c.com` | `.glob(...)` | nil |
/// | `1.2.3.4`, `1.2.3.4:8080` | `.network(1.2.3.4/32)` | nil, 8080 |
/// | `10.0.0.0/8`, `10.0.0.0/8:8080` | `.network(10.0.0.0/8)` | nil, 8080 |
/// | `::1`, `[::1]` | `.network(::1/128)` | nil |
/// | `fe80::/10` | `.network(fe80::/10)` | nil |
/// | `[::1]:8080`, `[fe80::/10]:8080` | `.network(...)` | 8080 |
/// | `::ffff:10.0.0.0/104` | `.network(10.0.0.0/8)` | nil |
///
/// A bare IPv6 address never has a port: `2001:db8::1:8080` is the address `2001:db8::1:8080`;
/// write `[2001:db8::1]:8080` for a port. Internationalised names are written in their `xn--`
/// form. A CIDR with host bits set (`10.0.0.1/8`) is refused rather than masked.
///
/// A nil ``port`` means the default port of the table the rule is registered in (80 for HTTP
/// rules, 443 for HTTPS rules). Two targets are equal when host and port are; a ``RuleTable``
/// also treats a nil port and its default port as the same rule.
public struct RuleTarget: Hashable, Sendable {
    /// What a target matches.
    public enum Host: Hashable, Sendable {
        /// An exact hostname, lower-case, without a trailing dot.
        case name(String)
        /// A hostname glob, lower-case, without a trailing dot, runs of `*` collapsed. `*` matches
        /// any run of characters, dots and the empty string included.
        case glob(String)
        /// An IP network; a single address is a /32 or /128.
        case network(IPNetwork)
    }

    /// What this target matches.
    public let host: Host
    /// The destination port, or nil for the table's default port.
    public let port: UInt16?

    /// Parses a rule target, refusing any text that is not one of the forms above with an error
    /// that names the target and says why.
    public init(parsing text: String) throws(RuleTargetError) {
        switch RuleTargetSyntax.parse(text) {
        case .success(let (host, port)):
            self.host = host
            self.port = port
        case .failure(let reason):
            throw RuleTargetError(target: text, reason: reason)
        }
    }
}

extension RuleTarget: CustomStringConvertible {
    /// The canonical form: lower-case names, single addresses without a prefix length, RFC 5952
    /// IPv6, and brackets around IPv6 only when a port follows (`[fe80::/10]:8080`).
    public var description: String {
        let hostText: String
        switch host {
        case .name(let name), .glob(let name):
            hostText = name
        case .network(let network):
            hostText = network.isSingleAddress ? network.address.description : network.description
            if let port, !network.address.isIPv4 {
                return "[\(hostText)]:\(port)"
            }
        }
        guard let port else { return hostText }
        return "\(hostText):\(port)"
    }
}
