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
        try proxy.iptables("-t", "mangle", "-A", "PREROUTING", "-p", "tcp", "-d", "203.0.113.0/24",
                           "-j", "TPROXY", "--on-port", "15002", "--tproxy-mark", "0x1/0x1")
        try proxy.ip("rule", "add", "fwmark", "0x1", "lookup", "100")
        try proxy.ip("route", "add", "local", "0.0.0.0/0", "dev", "lo", "table", "100")
        let config = try directory.write("""
            listen: ["0.0.0.0:15002"]
            mode: tproxy
            internet: false
            stateDirectory: \(directory.path("state"))
            rules:
              - http: "203.0.113.10"
                respond: { body: "transparent http\\n" }
              - https: "203.0.113.10"
                respond: { body: "transparent https\\n" }
            """, to: "egress.yaml")
        let egressd = ProcessRunner.productsDirectory.appendingPathComponent("egressd").path
        let server = try proxy.spawn([egressd, "run", "--config", config])
        defer { server.stop() }
        try server.waitForLines(containing: "listening")

        let plain = try client.run(["curl", "-sS", "--max-time", "10", "http://203.0.113.10/"])
        #expect(plain.standardOutput == "transparent http\n", "\(plain.combinedOutput)\n\(server.printed)")
        let secure = try client.run(["curl", "-sS", "--max-time", "10", "--cacert", directory.path("state/ca.crt"), "https://203.0.113.10/"])
        #expect(secure.standardOutput == "transparent https\n", "\(secure.combinedOutput)")
        #expect(server.lines(containing: "dst=203.0.113.10:443").count >= 1)
        let denied = try client.run(["curl", "-sS", "-w", "%{http_code}", "-o", "/dev/null", "http://203.0.113.11/"])
        #expect(denied.standardOutput == "403")
    }
}
