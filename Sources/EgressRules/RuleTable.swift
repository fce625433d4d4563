/// An ordered set of rules with first-registered-wins matching, indexed so that a lookup does not
/// scan the rules.
///
/// A lookup's work depends on the query and on how many distinct prefix lengths and glob literal
/// lengths occur, not on the number of rules; large tables cost more only through cache misses.
/// The exception is globs with no literal prefix or suffix other than `*` itself (`*foo*`): those
/// at the query's port are tried in order. A lookup does not allocate.
///
/// A rule is a ``RuleTarget`` and a value (for the proxy: a handler). A target without a port
/// stands for ``defaultPort`` (80 for HTTP rules, 443 for HTTPS rules), so `example.com` and
/// `example.com:443` are the same rule in a table whose default port is 443.
///
/// ``match(hostname:address:port:)`` returns the earliest registered rule that matches:
/// - name and glob rules compare against the hostname, case-insensitively and ignoring one
///   trailing dot; `*` in a glob matches any run of characters, dots and the empty string
///   included, so `*.example.com` does not match `example.com` but `*example.com` does;
/// - the glob `*` alone matches any hostname and also a query without one (`hostname == nil`,
///   such as TLS without SNI); every other name and glob rule needs a hostname;
/// - network rules compare against the address, IPv4-mapped IPv6 addresses as IPv4;
/// - every rule's port (its own, else the default) must equal the query's port.
public struct RuleTable<Value: Sendable>: Sendable {
    /// The port of targets registered without one.
    public let defaultPort: UInt16

    /// The targets of the rules, in registration order.
    @usableFromInline private(set) var targets: [RuleTarget] = []
    /// The values of the rules, in registration order.
    @usableFromInline private(set) var values: [Value] = []
    /// The position of each rule by what identifies it: its host and effective port.
    private var positions: [RuleIdentity: Int] = [:]
    private var hostnames = HostnameIndex()
    private var networks = NetworkIndex()

    private struct RuleIdentity: Hashable, Sendable {
        var host: RuleTarget.Host
        var port: UInt16
    }

    /// An empty table whose targets without a port match `defaultPort`.
    public init(defaultPort: UInt16) {
        self.defaultPort = defaultPort
    }

    /// The number of rules.
    public var count: Int { targets.count }

    /// The rules in registration order (for listing; a lookup does not use it).
    public var rules: [(target: RuleTarget, value: Value)] {
        Array(zip(targets, values))
    }

    /// The port a target matches in this table: its own, or ``defaultPort``.
    public func effectivePort(of target: RuleTarget) -> UInt16 {
        target.port ?? defaultPort
    }

    /// Registers `value` for `target`. A new target goes after all others. A target equal to a
    /// registered one (same host, same effective port) replaces that rule's value in place: it
    /// keeps its position, and the target as first registered.
    public mutating func register(_ target: RuleTarget, _ value: Value) {
        let port = effectivePort(of: target)
        let identity = RuleIdentity(host: target.host, port: port)
        if let position = positions[identity] {
            values[position] = value
            return
        }
        let position = Int32(targets.count)
        positions[identity] = targets.count
        targets.append(target)
        values.append(value)
        switch target.host {
        case .name(let name):
            hostnames.insert(name: name, port: port, position: position)
        case .glob(let glob):
            hostnames.insert(glob: glob, port: port, position: position)
        case .network(let network):
            networks.insert(network, port: port, position: position)
        }
    }

    /// The earliest registered rule that matches a connection or request, or nil.
    ///
    /// - Parameters:
    ///   - hostname: the `Host` (without its port) or the TLS SNI, in any case, with or without a
    ///     trailing dot; nil when there is none.
    ///   - address: the original destination address.
    ///   - port: the original destination port.
    @inlinable
    public func match(hostname: String?, address: IPAddress, port: UInt16) -> RuleMatch<Value>? {
        guard let position = position(matching: hostname, address: address, port: port) else { return nil }
        return RuleMatch(target: targets[position], value: values[position], position: position)
    }

    /// The position of the earliest registered rule that matches, or nil. Not generic, so that the
    /// inlinable ``match(hostname:address:port:)`` specialises only the thin part in its caller.
    @usableFromInline
    func position(matching hostname: String?, address: IPAddress, port: UInt16) -> Int? {
        var best = networks.bestMatch(address: address, port: port, below: .max)
        if let hostname {
            best = withUTF8Bytes(of: hostname) { hostnames.bestMatch(hostname: $0, port: port, below: best) }
        } else {
            best = hostnames.bestMatchWithoutHostname(port: port, below: best)
        }
        return best == .max ? nil : Int(best)
    }
}

/// The rule that a ``RuleTable`` lookup chose.
public struct RuleMatch<Value: Sendable>: Sendable {
    /// The rule's target, as first registered.
    public let target: RuleTarget
    /// The rule's current value.
    public let value: Value
    /// The rule's registration position, 0 for the first rule.
    public let position: Int

    @usableFromInline
    init(target: RuleTarget, value: Value, position: Int) {
        self.target = target
        self.value = value
        self.position = position
    }
}
