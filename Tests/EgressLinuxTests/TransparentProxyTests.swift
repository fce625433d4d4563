import EgressLinux
import EgressRules
import EgressTesting
import Glibc
import Testing

/// TPROXY between two test namespaces: connections routed through the proxy's namespace are
/// delivered to a transparent listener, whose accepted sockets carry the original destination as
/// their local address.
@Suite(.requiresRoot) struct TransparentProxyTests {
    static let proxyPort = "15002"

    @Test func aTransparentListenerSeesTheDestinationAsItsLocalAddress() throws {
        let client = try NetworkNamespace()
        let proxy = try NetworkNamespace()
        let link = try NetworkNamespace.link(client, proxy)
        // The client's only way to the test ranges is the proxy's namespace.
        try client.ip("route", "add", "203.0.113.0/24", "via", link.b.ipv4)
        try client.ip("-6", "route", "add", "2001:db8:1::/64", "via", link.b.ipv6)
        // The proxy's namespace diverts them to its transparent listener and delivers them locally.
        try proxy.iptables(
            "-t", "mangle", "-A", "PREROUTING", "-p", "tcp", "-d", "203.0.113.0/24",
            "-j", "TPROXY", "--on-port", Self.proxyPort, "--tproxy-mark", "0x1/0x1"
        )
        try proxy.ip6tables(
            "-t", "mangle", "-A", "PREROUTING", "-p", "tcp", "-d", "2001:db8:1::/64",
            "-j", "TPROXY", "--on-port", Self.proxyPort, "--tproxy-mark", "0x1/0x1"
        )
        for (family, everything) in [("-4", "0.0.0.0/0"), ("-6", "::/0")] {
            try proxy.ip(family, "rule", "add", "fwmark", "0x1", "lookup", "100")
            try proxy.ip(family, "route", "add", "local", everything, "dev", "lo", "table", "100")
        }
        let listener = try NetworkNamespaceSockets.createListener(
            inNetworkNamespace: proxy.path, address: .anyV6, port: 15002, transparent: true
        )
        defer { close(listener) }
        #expect(try SocketOptions.isTransparent(listener))

        for (destination, source) in [("203.0.113.10", link.a.ipv4), ("2001:db8:1::10", link.a.ipv6)] {
            let address = try #require(IPAddress(destination))
            let socket = try NetworkNamespaceSockets.createSocket(inNetworkNamespace: client.path, reaching: address)
            defer { close(socket) }
            try TestSockets.connect(socket, to: IPEndpoint(address: address, port: 443))
            let accepted = try TestSockets.accept(listener)
            defer { close(accepted) }
            #expect(try OriginalDestination.ofTransparent(socket: accepted) == IPEndpoint(address: address, port: 443))
            #expect(try IPEndpoint.peer(of: accepted).address == IPAddress(source))
        }
    }
}
