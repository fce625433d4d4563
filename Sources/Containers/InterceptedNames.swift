import EgressProxy
import EgressRules

/// Which names the DNS stub of a container treats as intercepted: a name that an HTTP or HTTPS
/// rule of the container would match on the port of any of its rules (so `*`, a glob, an exact
/// name, and rules for every address such as `interceptAllOutboundHttp` all count).
extension InterceptionRules {
    /// Whether a rule matches `name`.
    func interceptsName(_ name: String) -> Bool {
        let rules = snapshot
        return Self.matches(name, in: rules.http) || Self.matches(name, in: rules.https)
    }

    /// The DNS policy of a container with these rules: read live on every query.
    var dnsPolicy: ContainerDNSPolicy {
        ContainerDNSPolicy(isIntercepted: { [self] name in interceptsName(name) }, internet: { [self] in snapshot.internet })
    }

    private static func matches<Value>(_ name: String, in table: RuleTable<Value>) -> Bool {
        let ports = Set(table.rules.map { table.effectivePort(of: $0.target) })
        return ports.contains { port in
            table.match(hostname: name, address: .v4(0), port: port) != nil
        }
    }
}
