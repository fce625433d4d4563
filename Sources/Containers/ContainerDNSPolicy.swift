/// How a container's DNS stub answers, given the container's intercept rules and internet switch.
///
/// Both are read live through closures, so a rule added or the internet switched while the
/// container runs applies to the next query. For an Internet-class question about name `n`:
///
/// | name | internet on | internet off |
/// | --- | --- | --- |
/// | `localhost`, `*.localhost` | 127.0.0.1 / ::1 | 127.0.0.1 / ::1 |
/// | intercepted | the host resolver's addresses; the placeholder if it has none or fails | the placeholder |
/// | not intercepted | the host resolver's answer: NXDOMAIN if `n` does not exist, SERVFAIL on other failures | NXDOMAIN |
///
/// - Intercepted names never fail to resolve: all of the container's TCP goes to the proxy, which
///   matches rules by `Host` and SNI, so any address gets the request intercepted. Real addresses
///   are preferred when the host has them, so a connection that turns out not to match a rule
///   (another port, say) can still be passed through. When the host has addresses of one family
///   only, a question for the other gets NODATA, not the placeholder, so clients use the family
///   that works.
/// - Unknown names with the internet off get NXDOMAIN rather than REFUSED, so clients fail at
///   once with "could not resolve host" instead of trying the next server or retrying.
/// - Only addresses are resolved. Other types (MX, TXT, HTTPS/SVCB, ...) get NOERROR without
///   records (NODATA), so clients move on to A/AAAA at once; with the internet off, a name that is
///   neither intercepted nor `localhost` gets NXDOMAIN for every type. The host resolver is only
///   asked about A and AAAA questions.
/// - A class other than IN is REFUSED; the root name is NODATA.
package struct ContainerDNSPolicy: Sendable {
    /// Whether a name (lowercase, no trailing dot) matches one of the container's intercept rules.
    package var isIntercepted: @Sendable (String) -> Bool
    /// Whether the container may reach the internet right now.
    package var internet: @Sendable () -> Bool

    /// A policy reading the container's rules and internet switch through these closures, which
    /// are called on every query from any thread: they must be cheap and thread-safe.
    package init(isIntercepted: @escaping @Sendable (String) -> Bool, internet: @escaping @Sendable () -> Bool) {
        self.isIntercepted = isIntercepted
        self.internet = internet
    }

    /// The IPv4 address given to intercepted names that have no address: 240.240.0.1, in
    /// 240.0.0.0/4, reserved since RFC 1112 and routed nowhere on the internet.
    package static let placeholderIPv4: UInt32 = 0xF0F0_0001
    /// The IPv6 address given to intercepted names that have no address: 100::1, in the
    /// discard-only prefix 100::/64 (RFC 6666), which exists so that traffic to it is dropped.
    package static let placeholderIPv6: UInt128 = 0x0100 << 112 | 1
    /// Both placeholder addresses.
    package static let placeholders = HostAddresses(ipv4: [placeholderIPv4], ipv6: [placeholderIPv6])
    /// The loopback addresses that `localhost` names resolve to.
    static let loopback = HostAddresses(ipv4: [0x7F00_0001], ipv6: [1])

    /// The answer to `question`, asking `resolver` only when the table above says so.
    package func answer(_ question: DNSQuestion, resolver: any HostNameResolver) async -> DNSAnswer {
        guard question.recordClass == DNSRecordType.internetClass else { return DNSAnswer(.refused) }
        let name = question.name.text
        if name.isEmpty { return DNSAnswer(.noError) }
        if name == "localhost" || name.hasSuffix(".localhost") { return .addresses(Self.loopback) }
        let intercepted = isIntercepted(name)
        guard internet() else { return intercepted ? .addresses(Self.placeholders) : DNSAnswer(.nameError) }
        guard question.type == DNSRecordType.a || question.type == DNSRecordType.aaaa else { return DNSAnswer(.noError) }
        do {
            let addresses = try await resolver.addresses(of: name)
            return .addresses(intercepted && addresses.isEmpty ? Self.placeholders : addresses)
        } catch {
            if intercepted { return .addresses(Self.placeholders) }
            switch error {
            case .notFound: return DNSAnswer(.nameError)
            case .failed: return DNSAnswer(.serverFailure)
            }
        }
    }
}
