import EgressTesting
import Foundation
import Testing

/// `egressd run` as a redirect target inside a test-made container namespace, with real clients
/// (curl, python3) inside that namespace: plain HTTP by rule, forwarding, denial, reloads.
@Suite(.requiresRoot, .serialized)
struct HTTPInterceptionTests {
    @Test func rulesMatchByHostGlobAddressPortAndCIDR() async throws {
        try await offThread { try self.rulesMatchByHostGlobAddressPortAndCIDRBody() }
    }

    private func rulesMatchByHostGlobAddressPortAndCIDRBody() throws {
        let topology = try ProxyTopology()
        try topology.container.routeToLoopback("2001:db8:ffff::/48")
        try topology.startProxy(internet: false, rules: """
            rules:
              - http: first.example
                respond: { body: "first\\n" }
              - http: exact.example.com
                respond: { body: "exact\\n" }
              - http: "*.example"
                respond: { body: "glob\\n" }
              - http: "203.0.113.10"
                respond: { body: "ip\\n" }
              - http: "203.0.113.11:8080"
                respond: { body: "ip-port\\n" }
              - http: "203.0.113.64/26"
                respond: { body: "cidr\\n" }
              - http: "[2001:db8:ffff::/48]"
                respond: { body: "cidr6\\n" }
            """)
        let cases: [([String], String)] = [
            (["--resolve", "exact.example.com:80:203.0.113.99", "http://EXACT.example.com/"], "exact\n"),
            (["--resolve", "a.b.example:80:203.0.113.99", "http://a.b.example/"], "glob\n"),
            (["--resolve", "first.example:80:203.0.113.99", "http://first.example/"], "first\n"),
            (["http://203.0.113.10/"], "ip\n"),
            (["http://203.0.113.11:8080/"], "ip-port\n"),
            (["http://203.0.113.70/x"], "cidr\n"),
            (["-g", "http://[2001:db8:ffff::5]/"], "cidr6\n"),
        ]
        for (arguments, expected) in cases {
            let result = try topology.inContainer(["curl", "-sS", "--max-time", "10"] + arguments)
            #expect(result.standardOutput == expected, "curl \(arguments): \(result.combinedOutput)")
        }
        let wrongPort = try topology.inContainer(["curl", "-sS", "-w", "%{http_code}", "-o", "/dev/null", "http://203.0.113.11/"])
        #expect(wrongPort.standardOutput == "403")
    }

    @Test func unmatchedRequestsGoToTheOriginWithInternet() async throws {
        try await offThread { try self.unmatchedRequestsGoToTheOriginWithInternetBody() }
    }

    private func unmatchedRequestsGoToTheOriginWithInternetBody() throws {
        let topology = try ProxyTopology()
        try topology.startOrigin()
        try topology.startProxy(internet: true)
        for url in ["http://198.51.100.2/hello?x=1", "http://[2001:db8::2]/hello?x=1"] {
            let result = try topology.inContainer(["curl", "-sS", "-g", "--max-time", "10", url])
            let json = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any]
            #expect(json?["server"] as? String == "origin", "\(result.combinedOutput)")
            #expect(json?["path"] as? String == "/hello?x=1")
        }
    }

    @Test func unmatchedRequestsAreDeniedWithoutInternetAndTheConnectionStaysUsable() async throws {
        try await offThread { try self.unmatchedRequestsAreDeniedWithoutInternetAndTheConnectionStaysUsableBody() }
    }

    private func unmatchedRequestsAreDeniedWithoutInternetAndTheConnectionStaysUsableBody() throws {
        let topology = try ProxyTopology()
        let proxy = try topology.startProxy(internet: false)
        let result = try topology.inContainer([
            "curl", "-sS", "http://203.0.113.5/a", "http://203.0.113.5/b", "-H", "Host: blocked.example",
            "-w", "%{http_code} %{num_connects}\n",
        ])
        let expected = "egress: request to blocked.example denied: no rule intercepts it and this container has no internet access\n"
        #expect(result.standardOutput == expected + "403 1\n" + expected + "403 0\n", "\(result.combinedOutput)")
        try proxy.waitForLines(containing: "action=deny", count: 2)
    }

    @Test func metadataAndLinkLocalAreNotPassedThrough() async throws {
        try await offThread { try self.metadataAndLinkLocalAreNotPassedThroughBody() }
    }

    private func metadataAndLinkLocalAreNotPassedThroughBody() throws {
        let topology = try ProxyTopology()
        try topology.startProxy(internet: true)
        let result = try topology.inContainer(["curl", "-sS", "-w", "%{http_code}", "http://169.254.169.254/latest/meta-data/"])
        #expect(result.standardOutput.contains("169.254.169.254:80 is a link-local (cloud metadata) destination"), "\(result.combinedOutput)")
        #expect(result.standardOutput.hasSuffix("403"))
    }

    @Test func forwardInjectsSecretsTheContainerNeverHolds() async throws {
        try await offThread { try self.forwardInjectsSecretsTheContainerNeverHoldsBody() }
    }

    private func forwardInjectsSecretsTheContainerNeverHoldsBody() throws {
        let topology = try ProxyTopology()
        try topology.startOrigin()
        try topology.startProxy(internet: false, rules: """
            rules:
              - http: api.example
                forward: { to: origin, setHeaders: { authorization: "Bearer s3cret" }, removeHeaders: [x-debug] }
            """)
        let result = try topology.inContainer([
            "curl", "-sS", "--resolve", "api.example:80:198.51.100.2", "-H", "x-debug: 1", "http://api.example/v1",
        ])
        let json = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any]
        let headers = json?["headers"] as? [String: String]
        #expect(headers?["authorization"] == "Bearer s3cret", "\(result.combinedOutput)")
        #expect(headers?["host"] == "api.example")
        #expect(headers?["x-debug"] == nil)
    }

    @Test func aRuleAddedByReloadAppliesToTheNextRequestOnAnOpenConnection() async throws {
        try await offThread { try self.aRuleAddedByReloadAppliesToTheNextRequestOnAnOpenConnectionBody() }
    }

    private func aRuleAddedByReloadAppliesToTheNextRequestOnAnOpenConnectionBody() throws {
        let topology = try ProxyTopology()
        let proxy = try topology.startProxy(internet: false)
        let script = """
            import http.client, sys
            connection = http.client.HTTPConnection("203.0.113.20", 80, timeout=20)
            for _ in range(2):
                connection.request("GET", "/", headers={"Host": "late.example"})
                response = connection.getresponse()
                print(response.status, response.read().decode().strip(), connection.sock.getsockname()[1], flush=True)
                sys.stdin.readline()
            """
        let client = try topology.container.spawn(["python3", "-u", "-c", script])
        topology.track(client)
        _ = try client.waitForLines(containing: "403", count: 1)
        try topology.reloadProxy(proxy, replacing: "rules: []", with: "rules:\n  - http: late.example\n    respond: { body: \"now intercepted\" }")
        try client.writeLine("")
        let answers = try client.waitForLines(containing: " ", count: 2).map { $0.split(separator: " ") }
        #expect(answers[0].first == "403")
        #expect(answers[1].first == "200")
        #expect(answers[1].dropFirst().first == "now")
        #expect(answers[0].last == answers[1].last, "the second request must use the same connection")
    }

    /// `upstream.allow` applies on SIGHUP too: a destination the guard refused (an address of the
    /// proxy's own namespace) is forwarded to once the reloaded file allows it.
    @Test func anAllowedRangeAddedByReloadLetsTheNextRequestOut() async throws {
        try await offThread { try self.anAllowedRangeAddedByReloadLetsTheNextRequestOutBody() }
    }

    private func anAllowedRangeAddedByReloadLetsTheNextRequestOutBody() throws {
        let topology = try ProxyTopology()
        let own = topology.link.a.ipv4
        let server = try topology.container.spawn(OriginServer.command(address: own, port: 8088, name: "own"))
        topology.track(server)
        _ = try server.waitForLine(startingWith: "LISTENING")
        let proxy = try topology.startProxy(internet: true)
        let get = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", "http://\(own):8088/"]
        #expect(try topology.inContainer(get).standardOutput == "403", "the proxy's own address is refused")
        try topology.reloadProxy(proxy, replacing: "upstream:\n", with: "upstream:\n  allow: [\"\(own)/32\"]\n")
        #expect(try topology.inContainer(get).standardOutput == "200", "allowed after the reload")
        #expect(proxy.lines(containing: "apply only at the next start").isEmpty, "allow applies live: no warning")
        // A key that applies only at start is named when a reload changes it.
        try topology.reloadProxy(proxy, replacing: "mode: redirect", with: "mode: redirect\ntimeouts: { idle: 30 }")
        let warnings = proxy.lines(containing: "apply only at the next start")
        #expect(warnings.count == 1 && warnings.first?.contains("keys=timeouts.idle") == true, "\(warnings)")
    }

    @Test func malformedAndOversizedRequestsGetClearErrors() async throws {
        try await offThread { try self.malformedAndOversizedRequestsGetClearErrorsBody() }
    }

    private func malformedAndOversizedRequestsGetClearErrorsBody() throws {
        let topology = try ProxyTopology()
        try topology.startProxy(internet: false)
        let script = """
            import socket, sys
            def send(data):
                s = socket.create_connection(("203.0.113.30", 80), timeout=10)
                s.sendall(data)
                reply = b"".join(iter(lambda: s.recv(65536), b""))  # to the end: the proxy closes
                print(reply.split(b"\\r\\n")[0].decode(), flush=True)
            send(b"GET / HTTP/1.1\\r\\nHost: x\\r\\nBad Header Line\\r\\n\\r\\n")
            # Far more than the proxy reads before it refuses: the rest is still being sent when
            # the answer comes, and must not turn the proxy's close into a reset (the send fails).
            send(b"GET / HTTP/1.1\\r\\nHost: x\\r\\nX-Big: " + b"a" * 8000000 + b"\\r\\n\\r\\n")
            """
        let result = try topology.inContainer(["python3", "-c", script])
        #expect(result.standardOutput == "HTTP/1.1 400 Bad Request\nHTTP/1.1 431 Request Header Fields Too Large\n", "\(result.combinedOutput)")
    }

    @Test func aClientThatStallsInItsHeadersIsClosedAfterTheIdleTimeout() async throws {
        try await offThread { try self.aClientThatStallsInItsHeadersIsClosedAfterTheIdleTimeoutBody() }
    }

    private func aClientThatStallsInItsHeadersIsClosedAfterTheIdleTimeoutBody() throws {
        let topology = try ProxyTopology()
        try topology.startProxy(internet: false, extra: "timeouts: { idle: 1 }")
        let script = """
            import socket, time
            s = socket.create_connection(("203.0.113.31", 80), timeout=15)
            s.sendall(b"GET / HTTP/1.1\\r\\nHo")
            started = time.monotonic()
            print("closed" if s.recv(100) == b"" else "answered", round(time.monotonic() - started) <= 5)
            """
        let result = try topology.inContainer(["python3", "-c", script])
        #expect(result.standardOutput == "closed True\n", "\(result.combinedOutput)")
    }

    @Test func anUpgradeNoRuleInterceptsBecomesATunnel() async throws {
        try await offThread { try self.anUpgradeNoRuleInterceptsBecomesATunnelBody() }
    }

    private func anUpgradeNoRuleInterceptsBecomesATunnelBody() throws {
        let topology = try ProxyTopology()
        let origin = try topology.origin.spawn(["python3", "-u", "-c", """
            import socket
            server = socket.socket(); server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind(("198.51.100.2", 8088)); server.listen(); print("LISTENING", flush=True)
            while True:
                client, _ = server.accept()
                head = b""
                while b"\\r\\n\\r\\n" not in head: head += client.recv(1024)
                client.sendall(b"HTTP/1.1 101 Switching Protocols\\r\\nConnection: Upgrade\\r\\nUpgrade: echo\\r\\n\\r\\n")
                while True:
                    data = client.recv(1024)
                    if not data: break
                    client.sendall(data.upper())
                client.close()
            """])
        topology.track(origin)
        _ = try origin.waitForLine(startingWith: "LISTENING")
        let proxy = try topology.startProxy(internet: true)
        let script = """
            import socket
            s = socket.create_connection(("198.51.100.2", 8088), timeout=10)
            s.sendall(b"GET /ws HTTP/1.1\\r\\nHost: ws.test:8088\\r\\nConnection: Upgrade\\r\\nUpgrade: echo\\r\\n\\r\\n")
            reply = b""
            while b"\\r\\n\\r\\n" not in reply: reply += s.recv(1024)
            print(reply.split(b"\\r\\n")[0].decode())
            s.sendall(b"raw bytes after the switch")
            print(s.recv(1024).decode())
            """
        let result = try topology.inContainer(["python3", "-c", script])
        #expect(result.standardOutput == "HTTP/1.1 101 Switching Protocols\nRAW BYTES AFTER THE SWITCH\n", "\(result.combinedOutput)")
        try proxy.waitForLines(containing: "protocol=http upgrade echo relay=splice")
    }

    @Test func sigtermDrainsAndExits() async throws {
        try await offThread { try self.sigtermDrainsAndExitsBody() }
    }

    private func sigtermDrainsAndExitsBody() throws {
        let topology = try ProxyTopology()
        let proxy = try topology.startProxy(internet: false)
        proxy.send(SIGTERM)
        #expect(try proxy.waitForExit() == 0)
        // The exit can be seen before the reader of its output has read the last lines.
        #expect(try !proxy.waitForLines(containing: "draining").isEmpty)
    }
}
