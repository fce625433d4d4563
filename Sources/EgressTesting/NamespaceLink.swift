/// A veth pair between two test namespaces, with an address of each family on each end.
///
/// Its connected routes (198.51.100.0/24, 2001:db8::/64 by default) are the only routes it adds:
/// the two namespaces reach each other and nothing else.
public struct NamespaceLink: Sendable {
    /// One end of the link.
    public struct End: Sendable {
        /// The namespace this end is in.
        public let namespace: String
        /// The veth interface's name inside that namespace.
        public let interface: String
        /// Its IPv4 address.
        public let ipv4: String
        /// Its IPv6 address.
        public let ipv6: String
    }

    /// The end in the first namespace.
    public let a: End
    /// The end in the second namespace.
    public let b: End
}

extension NetworkNamespace {
    /// Links `a` and `b` with a veth pair made directly inside them (never in the namespace the
    /// tests run in), gives the ends `ipv4` (/24) and `ipv6` (/64, without duplicate address
    /// detection, so they are usable at once) and brings them up.
    ///
    /// The default addresses suit a namespace with one link; give others for a second link.
    @discardableResult
    public static func link(
        _ a: NetworkNamespace,
        _ b: NetworkNamespace,
        ipv4: (a: String, b: String) = ("198.51.100.1", "198.51.100.2"),
        ipv6: (a: String, b: String) = ("2001:db8::1", "2001:db8::2")
    ) throws -> NamespaceLink {
        // Interface names have at most 15 characters and need only be unique per namespace.
        let number = counter.add(1, ordering: .relaxed).newValue
        let link = NamespaceLink(
            a: .init(namespace: a.name, interface: "egva\(number)", ipv4: ipv4.a, ipv6: ipv6.a),
            b: .init(namespace: b.name, interface: "egvb\(number)", ipv4: ipv4.b, ipv6: ipv6.b)
        )
        try a.ip("link", "add", link.a.interface, "type", "veth", "peer", "name", link.b.interface, "netns", b.name)
        for (namespace, end) in [(a, link.a), (b, link.b)] {
            try namespace.ip("address", "add", "\(end.ipv4)/24", "dev", end.interface)
            try namespace.ip("-6", "address", "add", "\(end.ipv6)/64", "dev", end.interface, "nodad")
            try namespace.ip("link", "set", end.interface, "up")
        }
        return link
    }
}
