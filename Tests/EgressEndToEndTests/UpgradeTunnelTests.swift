import EgressTesting
import Foundation
import Testing

/// Requests that ask to switch protocols (`Connection: upgrade`, `Upgrade: websocket`) later on a
/// kept-alive connection, or inside intercepted TLS, and that no rule answers: `egressd run`
/// forwards them with their upgrade fields and, when the origin answers 101, tunnels the bytes.
/// The client is a raw python3 socket in the container namespace (TLS verified against the
/// proxy's CA); the origin is ``UpgradeOriginServer`` in the origin namespace.
@Suite(.requiresRoot, .serialized)
struct UpgradeTunnelTests {
    /// The client: on one connection, `GET /plain`, then the upgrade request (`/ws`, or `/refuse`
    /// which the origin declines, followed by `GET /plain` again). Through a tunnel it sends a few
    /// bytes right behind the request, then `ping`, and ends its side (plain TCP: a half-close,
    /// after which it reads the origin's farewell; TLS: a close). Prints what it saw, a line each.
    private static let client = #"""
import socket, ssl, sys

address, port, host, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
sock = socket.create_connection((address, port), timeout=10)
if len(sys.argv) > 5:
    context = ssl.create_default_context(cafile=sys.argv[5])
    sock = context.wrap_socket(sock, server_hostname=sys.argv[6])
buffered = b""

def head():
    global buffered
    while b"\r\n\r\n" not in buffered:
        data = sock.recv(65536)
        if not data:
            raise SystemExit("closed before a response head: %r" % buffered)
        buffered += data
    text, buffered = buffered.split(b"\r\n\r\n", 1)
    return text.decode("latin-1").split("\r\n")

def exactly(count):
    global buffered
    while len(buffered) < count:
        data = sock.recv(65536)
        if not data:
            raise SystemExit("closed after %r" % buffered)
        buffered += data
    taken, buffered = buffered[:count], buffered[count:]
    return taken.decode()

def response():
    lines = head()
    length = int([line.split(":", 1)[1] for line in lines if line.lower().startswith("content-length:")][0])
    return lines[0] + " | " + exactly(length).strip()

request = "GET %s HTTP/1.1\r\nHost: %s\r\n%s\r\n"
sock.sendall((request % ("/plain", host, "")).encode())
print(response())
upgrade = "Connection: Upgrade\r\nUpgrade: websocket\r\n"
if path == "/refuse":
    sock.sendall((request % ("/refuse", host, upgrade)).encode())
    print(response())
    sock.sendall((request % ("/plain", host, "")).encode())
    print(response())
    raise SystemExit(0)
sock.sendall((request % ("/ws", host, upgrade)).encode() + b"early\n")
lines = head()
print(lines[0])
print("upgrade field: " + str([line for line in lines[1:] if line.lower().startswith("upgrade:")]))
print(exactly(len("hello from origin\n")).strip())
print(exactly(len("EARLY\n")).strip())
sock.sendall(b"ping\n")
print(exactly(len("PING\n")).strip())
if len(sys.argv) > 5:
    sock.close()
    raise SystemExit(0)
sock.shutdown(socket.SHUT_WR)
rest = b""
while True:
    data = sock.recv(65536)
    if not data:
        break
    rest += data
print((buffered + rest).decode().strip())
"""#

    private func startOrigin(_ topology: ProxyTopology, port: UInt16, certificates: OriginCertificates? = nil) throws {
        let server = try topology.origin.spawn(UpgradeOriginServer.command(
            address: topology.link.b.ipv4, port: port, certificate: certificates?.certificate, key: certificates?.key
        ))
        topology.track(server)
        _ = try server.waitForLine(startingWith: "LISTENING")
    }

    /// What the client prints when its upgrade became a tunnel (`farewell`: it half-closed and
    /// read the origin's last words).
    private static func tunnelTranscript(farewell: Bool) -> String {
        "HTTP/1.1 200 OK | 200 /plain upgrade=-\nHTTP/1.1 101 Switching Protocols\nupgrade field: ['Upgrade: websocket']\n"
            + "hello from origin\nEARLY\nPING\n" + (farewell ? "origin saw the end\n" : "")
    }

    /// The proxy's decision line for the tunnel, once it ended: a 101 whose tunnel took the
    /// client's `early\n` and `ping\n` up.
    private func tunnelLine(_ proxy: BackgroundProcess) throws -> String {
        let lines = try proxy.waitForLines(containing: "upgrade=websocket")
        let line = lines.first ?? ""
        #expect(line.contains("status=101") && line.contains("bytes_up=11 "), "\(lines)")
        return line
    }

    @Test func aWebSocketUpgradeLaterOnAKeptAliveConnectionBecomesATunnel() async throws {
        try await offThread { try self.aWebSocketUpgradeLaterOnAKeptAliveConnectionBecomesATunnelBody() }
    }

    private func aWebSocketUpgradeLaterOnAKeptAliveConnectionBecomesATunnelBody() throws {
        let topology = try ProxyTopology()
        try startOrigin(topology, port: 80)
        let proxy = try topology.startProxy(internet: true)
        let origin = topology.link.b.ipv4
        let result = try topology.inContainer(["python3", "-c", Self.client, origin, "80", "ws.test", "/ws"])
        #expect(result.status == 0 && result.standardOutput == Self.tunnelTranscript(farewell: true), "\(result.combinedOutput)")
        let tunnel = try tunnelLine(proxy)
        #expect(tunnel.contains("action=forward http://\(origin):80 (ws.test)"), "\(tunnel)")
        // Down: the greeting, the two echoes and the farewell.
        #expect(tunnel.contains("bytes_down=\(18 + 6 + 5 + 19)"), "\(tunnel)")
    }

    @Test func aWebSocketUpgradeInsideInterceptedTLSThatNoRuleAnswersBecomesATunnel() async throws {
        try await offThread { try self.aWebSocketUpgradeInsideInterceptedTLSThatNoRuleAnswersBecomesATunnelBody() }
    }

    /// The connection is intercepted by its SNI (`secure.example` has an HTTPS rule); its requests
    /// are routed by their `Host`, and `ws.origin.test` matches no rule, so they go to the original
    /// destination over TLS (SNI `ws.origin.test`, verified against the origin's CA).
    private func aWebSocketUpgradeInsideInterceptedTLSThatNoRuleAnswersBecomesATunnelBody() throws {
        let topology = try ProxyTopology()
        let origin = topology.link.b.ipv4
        let certificates = try OriginCertificates(in: topology.directory, names: ["ws.origin.test"], addresses: [])
        try startOrigin(topology, port: 443, certificates: certificates)
        let proxy = try topology.startProxy(internet: true, upstream: "extraRoots: \(certificates.ca)", rules: """
            rules:
              - https: secure.example
                respond: { body: "secure\\n" }
            """)
        let result = try topology.inContainer([
            "python3", "-c", Self.client, origin, "443", "ws.origin.test", "/ws", topology.caCertificate, "secure.example",
        ])
        #expect(result.status == 0 && result.standardOutput == Self.tunnelTranscript(farewell: false), "\(result.combinedOutput)")
        let tunnel = try tunnelLine(proxy)
        #expect(tunnel.contains("url=https://ws.origin.test/ws"), "\(tunnel)")
    }

    @Test func anUpgradeTheOriginDeclinesIsAnsweredAndTheConnectionGoesOn() async throws {
        try await offThread { try self.anUpgradeTheOriginDeclinesIsAnsweredAndTheConnectionGoesOnBody() }
    }

    private func anUpgradeTheOriginDeclinesIsAnsweredAndTheConnectionGoesOnBody() throws {
        let topology = try ProxyTopology()
        try startOrigin(topology, port: 80)
        let proxy = try topology.startProxy(internet: true)
        let result = try topology.inContainer(["python3", "-c", Self.client, topology.link.b.ipv4, "80", "ws.test", "/refuse"])
        #expect(result.status == 0, "\(result.combinedOutput)")
        #expect(result.standardOutput == """
            HTTP/1.1 200 OK | 200 /plain upgrade=-
            HTTP/1.1 400 Bad Request | 400 /refuse upgrade=websocket
            HTTP/1.1 200 OK | 200 /plain upgrade=-

            """, "\(result.combinedOutput)")
        let lines = try proxy.waitForLines(containing: "url=http://ws.test/", count: 3)
        #expect(lines.filter { $0.contains("upgrade=") }.isEmpty, "no tunnel: \(lines)")
    }
}
