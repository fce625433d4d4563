import EgressTesting
import Foundation
import Testing

/// `egressd run` with `mode: tproxy`: a client namespace routes the test range through the
/// proxy's namespace, whose mangle TPROXY rules (the README's lines) deliver the connections to
/// egressd's transparent listener; the local address of each is its original destination.
@Suite(.requiresRoot, .serialized)
struct TransparentModeTests {
    @Test func tproxyInterceptsHTTPAndHTTPS() async throws {
        try await offThread { try self.tproxyInterceptsHTTPAndHTTPSBody() }
    }

    private func tproxyInterceptsHTTPAndHTTPSBody() throws {
        let client = try NetworkNamespace(prefix: "egtc")
        let proxy = try NetworkNamespace(prefix: "egtp")
        let link = try NetworkNamespace.link(client, proxy)
        let directory = try TemporaryDirectory("egress-tproxy")
        try client.ip("route", "add", "203.0.113.0/24", "via", link.b.ipv4)
        try client.ip("-6", "route", "add", "2001:db8:1::/64", "via", link.b.ipv6)
        // The README's TPROXY lines, for both families, in the proxy's namespace only.
        try proxy.iptables("-t", "mangle", "-A", "PREROUTING", "-p", "tcp", "-d", "203.0.113.0/24",
                           "-j", "TPROXY", "--on-port", "15002", "--tproxy-mark", "0x1/0x1")
        try proxy.ip6tables("-t", "mangle", "-A", "PREROUTING", "-p", "tcp", "-d", "2001:db8:1::/64",
                            "-j", "TPROXY", "--on-port", "15002", "--tproxy-mark", "0x1/0x1")
        for (family, everything) in [("-4", "0.0.0.0/0"), ("-6", "::/0")] {
            try proxy.ip(family, "rule", "add", "fwmark", "0x1", "lookup", "100")
            try proxy.ip(family, "route", "add", "local", everything, "dev", "lo", "table", "100")
        }
        // One dual-stack transparent listener takes both families.
        let config = try directory.write("""
            listen: ["[::]:15002"]
            mode: tproxy
            internet: false
            stateDirectory: \(directory.path("state"))
            rules:
              - http: "203.0.113.10"
                respond: { body: "transparent http\\n" }
              - https: "203.0.113.10"
                respond: { body: "transparent https\\n" }
              - http: "2001:db8:1::10"
                respond: { body: "transparent http over IPv6\\n" }
            """, to: "egress.yaml")
        let egressd = ProcessRunner.productsDirectory.appendingPathComponent("egressd").path
        let server = try proxy.spawn([egressd, "run", "--config", config])
        defer { server.stop() }
        try server.waitForLines(containing: "listening")

        let plain = try client.run(["curl", "-sS", "--max-time", "10", "http://203.0.113.10/"])
        #expect(plain.standardOutput == "transparent http\n", "\(plain.combinedOutput)\n\(server.printed)")
        let secure = try client.run(["curl", "-sS", "--max-time", "10", "--cacert", directory.path("state/ca.crt"), "https://203.0.113.10/"])
        #expect(secure.standardOutput == "transparent https\n", "\(secure.combinedOutput)")
        // The decision line follows the response; it is waited for, not read at once.
        _ = try server.waitForLines(containing: "dst=203.0.113.10:443")
        let v6 = try client.run(["curl", "-sS", "-g", "--max-time", "10", "http://[2001:db8:1::10]/"])
        #expect(v6.standardOutput == "transparent http over IPv6\n", "\(v6.combinedOutput)")
        let denied = try client.run(["curl", "-sS", "-w", "%{http_code}", "-o", "/dev/null", "http://203.0.113.11/"])
        #expect(denied.standardOutput == "403")
    }
}
