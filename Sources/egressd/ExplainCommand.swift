import ArgumentParser
import EgressConfiguration
import EgressLinux
import EgressProxy
import EgressRules

/// `egressd explain`: which rule and action a request or connection would get.
struct ExplainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Print which rule and action a request or connection would get, for debugging rules."
    )

    @Option(help: "The configuration file.")
    var config: String

    @Flag(help: "A plain HTTP request, or a TLS connection.")
    var kind: Kind = .http

    @Option(help: "The Host (HTTP) or SNI (HTTPS); leave out for none.")
    var host: String?

    @Option(help: "The original destination, ADDRESS:PORT ([ADDRESS]:PORT for IPv6).")
    var dst: String

    enum Kind: String, EnumerableFlag {
        case http, https
    }

    func run() throws {
        let configuration: ProxyConfiguration
        do {
            configuration = try ProxyConfiguration.load(from: config)
        } catch {
            throw CommandFailure("\(error)")
        }
        guard let destination = IPEndpoint(parsing: dst) else { throw ValidationError("--dst \"\(dst)\" is not ADDRESS:PORT ([ADDRESS]:PORT for IPv6)") }
        let scheme: ConfiguredRule.Scheme = kind == .http ? .http : .https
        var table = RuleTable<Int>(defaultPort: scheme == .http ? 80 : 443)
        for (index, rule) in configuration.rules.enumerated() where rule.scheme == scheme {
            table.register(rule.target, index)
        }
        print("\(kind.rawValue) \(host.map { "to \($0) " } ?? "without a name ")at \(dst)")
        if let match = table.match(hostname: host, address: destination.address, port: destination.port) {
            let rule = configuration.rules[match.value]
            print("  rule \(match.value + 1) (\(scheme.rawValue): \(rule.target)) matches: \(rule.summary)")
            if scheme == .https { print("  the TLS connection is intercepted with a leaf for \(host ?? destination.address.description)") }
            return
        }
        print("  no rule matches")
        let guardRefusal = DestinationGuard(allowed: configuration.allow).refusal(for: destination)
        switch (configuration.internet, scheme, guardRefusal) {
        case (false, .http, _): print("  internet is off: the request is denied with 403")
        case (false, .https, _): print("  internet is off: the connection is closed")
        case (true, _, let refusal?): print("  \(dst) is a \(refusal): refused (403 for HTTP, closed for TLS)")
        case (true, .http, nil): print("  internet is on: the request is forwarded to \(dst)")
        case (true, .https, nil): print("  internet is on: the TLS connection is passed through unmodified to \(dst)")
        }
    }
}
