import Containers
import EgressTesting
import Foundation
import HTTPTypes
import NIOCore
import Workers
import XCTest

/// Interception from inside containers: real clients, DNS through the stub, TLS verified against
/// the delivered CA, rules per container and live.
final class ContainerInterceptionTests: XCTestCase {
    func testHTTPInterceptionAndDenialWithoutInternet() async throws {
        let fixture = try ContainerFixture(self)
        let container = try fixture.host.makeContainer()
        try container.interceptOutboundHttp("api.test", Worker(TextWorker(text: "from the handler")))
        let (output, _) = try await fixture.run("""
            curl -sS http://api.test/hello; echo "curl=$?"
            curl -sS -o /dev/null -w 'unknown=%{http_code}\\n' http://unknown.test/ 2>/dev/null; echo "curl-unknown=$?"
            curl -sS -w '\\nstatus=%{http_code}\\n' http://203.0.113.5/x
            """, in: container)
        XCTAssertTrue(output.contains("from the handler\ncurl=0"), output)
        XCTAssertTrue(output.contains("curl-unknown=6"), "an unknown name does not resolve without internet: \(output)")
        XCTAssertTrue(output.contains("egress: request to 203.0.113.5 denied"), output)
        XCTAssertTrue(output.contains("status=403"), output)
    }

    func testIPv6AndAddressRules() async throws {
        let fixture = try ContainerFixture(self)
        let container = try fixture.host.makeContainer()
        try container.interceptOutboundHttp("[2001:db8::/32]", Worker(TextWorker(text: "v6 range")))
        try container.interceptOutboundHttp("203.0.113.7:8080", Worker(TextWorker(text: "v4 address and port")))
        let (output, _) = try await fixture.run("""
            curl -sS -g http://[2001:db8::5]/
            curl -sS http://203.0.113.7:8080/
            curl -sS -o /dev/null -w '%{http_code}\n' http://203.0.113.7/
            """, in: container)
        XCTAssertEqual(output, "v6 range\nv4 address and port\n403\n")
    }

    func testHTTPSTrustedByEveryClientThroughTheDeliveredCA() async throws {
        let fixture = try ContainerFixture(self)
        let container = try fixture.host.makeContainer()
        try container.interceptOutboundHttps("*.secure.test", Worker(TextWorker(text: "secure answer")))
        var script = """
            cat /etc/cloudflare/certs/cloudflare-containers-ca.crt
            ls \(fixture.directory.path("state")) | wc -l | sed 's/^/state-entries=/'
            curl -sS https://www.secure.test/curl; echo "curl=$?"
            python3 -c 'import urllib.request; print(urllib.request.urlopen("https://py.secure.test/p").read().decode().strip(), "python=ok")'
            echo | openssl s_client -connect ossl.secure.test:443 -servername ossl.secure.test -verify_return_error -verify_hostname ossl.secure.test 2>&1 | grep -E "Verify return code"
            """
        let hasNode = ProcessRunner.isInstalled("node")
        if hasNode {
            script += "\nnode -e 'fetch(\"https://node.secure.test/n\").then(r => r.text()).then(t => console.log(t.trim(), \"node=ok\"))'"
        }
        let (output, _) = try await fixture.run(script, in: container)
        XCTAssertTrue(output.contains(try String(contentsOfFile: fixture.caCertificate, encoding: .utf8)), output)
        XCTAssertTrue(output.contains("state-entries=0"), "the state directory (CA key) is hidden: \(output)")
        XCTAssertTrue(output.contains("secure answer\ncurl=0"), output)
        XCTAssertTrue(output.contains("secure answer python=ok"), output)
        XCTAssertTrue(output.contains("Verify return code: 0 (ok)"), output)
        if hasNode { XCTAssertTrue(output.contains("secure answer node=ok"), output) }
    }

    func testTwoContainersWithDifferentRulesAtOnce() async throws {
        let fixture = try ContainerFixture(self)
        let alpha = try fixture.host.makeContainer(id: "alpha")
        let beta = try fixture.host.makeContainer(id: "beta")
        try alpha.interceptOutboundHttp("svc.test", Worker(TextWorker(text: "alpha rules")))
        try beta.interceptOutboundHttp("svc.test", Worker(TextWorker(text: "beta rules")))
        let script = "for i in 1 2 3; do curl -sS http://svc.test/; sleep 0.1; done"
        async let first = fixture.run(script, in: alpha)
        async let second = fixture.run(script, in: beta)
        let (alphaOutput, betaOutput) = try await (first.output, second.output)
        XCTAssertEqual(alphaOutput, String(repeating: "alpha rules\n", count: 3))
        XCTAssertEqual(betaOutput, String(repeating: "beta rules\n", count: 3))
    }

    func testARuleAddedWhileRunningAppliesToAnOpenKeepAliveConnection() async throws {
        let fixture = try ContainerFixture(self)
        let container = try fixture.host.makeContainer()
        let path = try await fixture.start(container, script: """
            exec python3 - <<'EOF'
            import http.client, signal
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
            connection = http.client.HTTPConnection("203.0.113.20", 80, timeout=10)
            connection.request("GET", "/one", headers={"Host": "live.test"})
            first = connection.getresponse(); first.read()
            port = connection.sock.getsockname()[1]
            print("first", first.status, flush=True)
            signal.sigwait({signal.SIGUSR1})
            connection.request("GET", "/two", headers={"Host": "live.test"})
            second = connection.getresponse()
            print("second", second.status, second.read().decode().strip(), "same-connection", connection.sock.getsockname()[1] == port, flush=True)
            EOF
            """)
        try await fixture.waitFor("first 403", in: path)
        try container.interceptOutboundHttp("live.test", Worker(TextWorker(text: "added live")))
        try container.signal(SIGUSR1)
        try await container.monitor()
        let output = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertTrue(output.contains("second 200 added live same-connection True"), output)
    }

    func testGetTcpPortFetchAndConnect() async throws {
        let fixture = try ContainerFixture(self)
        let container = try fixture.host.makeContainer()
        let path = try await fixture.start(container, script: """
            exec python3 - <<'EOF'
            import http.server, socket, threading
            class Echo(http.server.BaseHTTPRequestHandler):
                def do_POST(self):
                    body = self.rfile.read(int(self.headers["content-length"]))
                    answer = b"echo " + self.path.encode() + b" " + body
                    self.send_response(200)
                    self.send_header("content-length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                def log_message(self, *args): pass
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 8080), Echo)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            raw = socket.socket(socket.AF_INET6); raw.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            raw.bind(("::1", 9000)); raw.listen()  # IPv6 only: connect() falls back to [::1]
            print("ready", flush=True)
            while True:
                peer, _ = raw.accept(); peer.sendall(peer.recv(100).upper()); peer.close()
            EOF
            """)
        try await fixture.waitFor("ready", in: path)
        guard let request = Request(method: .post, url: "http://container/set-state", body: Body("initial state")) else {
            return XCTFail("request")
        }
        let response = try await container.getTcpPort(8080).fetch(request)
        XCTAssertEqual(response.status, .ok)
        let body = try await response.body.collect(upTo: 1024)
        XCTAssertEqual(body, ByteBuffer(string: "echo /set-state initial state"))

        let channel = try await container.getTcpPort(9000).connect()
        let answer = try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: "hello"))
            var received = ByteBuffer()
            for try await chunk in inbound {
                var chunk = chunk
                received.writeBuffer(&chunk)
            }
            return received
        }
        XCTAssertEqual(answer, ByteBuffer(string: "HELLO"))
        await container.destroy()
        do {
            _ = try await container.getTcpPort(8080).fetch(request)
            XCTFail("fetched from a destroyed container")
        } catch {
            XCTAssertEqual(error as? ContainerError, .notRunning)
        }
    }
}
