import EgressTesting
import Foundation
import Testing

/// HTTPS through `egressd run`: interception with minted leaves that real clients inside the
/// container verify against the proxy's CA (never `-k`), and untouched pass-through.
@Suite(.requiresRoot, .serialized)
struct HTTPSInterceptionTests {
    private func interceptingTopology(internet: Bool = false) throws -> ProxyTopology {
        let topology = try ProxyTopology()
        try topology.resolve(["secure.example", "api.glob.example", "anything.test"], to: "203.0.113.40")
        try topology.startProxy(internet: internet, rules: """
            rules:
              - https: secure.example
                respond: { body: "secure\\n" }
              - https: "*.glob.example"
                respond: { body: "glob\\n" }
              - https: "203.0.113.41"
                respond: { body: "by address\\n" }
            """)
        return topology
    }

    @Test func curlVerifiesInterceptedHTTPSByNameAndGlob() async throws {
        try await offThread { try self.curlVerifiesInterceptedHTTPSByNameAndGlobBody() }
    }

    private func curlVerifiesInterceptedHTTPSByNameAndGlobBody() throws {
        let topology = try interceptingTopology()
        for (url, expected) in [("https://secure.example/", "secure\n"), ("https://api.glob.example/x", "glob\n")] {
            let result = try topology.inContainer(["curl", "-sS", "--cacert", topology.caCertificate, url])
            #expect(result.status == 0 && result.standardOutput == expected, "\(url): \(result.combinedOutput)")
        }
    }

    @Test func clientWithoutSNIGetsALeafForTheAddress() async throws {
        try await offThread { try self.clientWithoutSNIGetsALeafForTheAddressBody() }
    }

    private func clientWithoutSNIGetsALeafForTheAddressBody() throws {
        let topology = try interceptingTopology()
        let result = try topology.inContainer(["curl", "-sS", "--cacert", topology.caCertificate, "https://203.0.113.41/"])
        #expect(result.standardOutput == "by address\n", "\(result.combinedOutput)")
    }

    @Test func pythonVerifiesInterceptedHTTPS() async throws {
        try await offThread { try self.pythonVerifiesInterceptedHTTPSBody() }
    }

    private func pythonVerifiesInterceptedHTTPSBody() throws {
        let topology = try interceptingTopology()
        let script = """
            import ssl, urllib.request
            context = ssl.create_default_context(cafile="\(topology.caCertificate)")
            print(urllib.request.urlopen("https://secure.example/", context=context, timeout=10).read().decode(), end="")
            """
        let result = try topology.inContainer(["python3", "-c", script])
        #expect(result.standardOutput == "secure\n", "\(result.combinedOutput)")
    }

    @Test func opensslClientVerifiesTheMintedChain() async throws {
        try await offThread { try self.opensslClientVerifiesTheMintedChainBody() }
    }

    private func opensslClientVerifiesTheMintedChainBody() throws {
        let topology = try interceptingTopology()
        let result = try topology.inContainer([
            "openssl", "s_client", "-connect", "203.0.113.40:443", "-servername", "secure.example",
            "-verify_hostname", "secure.example", "-verify_return_error", "-CAfile", topology.caCertificate, "-alpn", "http/1.1",
            "-ign_eof",  // read the answer to the end (Connection: close), not just until stdin ends
        ], input: "GET / HTTP/1.1\r\nHost: secure.example\r\nConnection: close\r\n\r\n")
        #expect(result.standardOutput.contains("Verify return code: 0 (ok)"), "\(result.combinedOutput)")
        #expect(result.standardOutput.contains("ALPN protocol: http/1.1"))
        // The response itself (the certificate lines name "secure" too).
        #expect(result.standardOutput.contains("HTTP/1.1 200"), "\(result.standardOutput)")
        #expect(result.standardOutput.contains("\r\n\r\nsecure\n"), "\(result.standardOutput)")
    }

    @Test(.enabled(if: ProcessRunner.isInstalled("node"), "node is not installed"))
    func nodeFetchVerifiesInterceptedHTTPS() async throws {
        try await offThread { try self.nodeFetchVerifiesInterceptedHTTPSBody() }
    }

    private func nodeFetchVerifiesInterceptedHTTPSBody() throws {
        let topology = try interceptingTopology()
        let result = try topology.inContainer(
            ["env", "NODE_EXTRA_CA_CERTS=\(topology.caCertificate)", "node", "-e",
             "fetch('https://secure.example/').then(r => r.text()).then(t => process.stdout.write(t)).catch(e => { console.error(e.cause ?? e); process.exit(1) })"]
        )
        #expect(result.standardOutput == "secure\n", "\(result.combinedOutput)")
    }

    @Test func unmatchedTLSIsPassedThroughUntouchedWithInternet() async throws {
        try await offThread { try self.unmatchedTLSIsPassedThroughUntouchedWithInternetBody() }
    }

    private func unmatchedTLSIsPassedThroughUntouchedWithInternetBody() throws {
        let topology = try ProxyTopology()
        let origin = try OriginCertificates(in: topology.directory, names: ["origin.test"], addresses: ["198.51.100.2"])
        let server = try topology.origin.spawn([
            "openssl", "s_server", "-accept", "198.51.100.2:443", "-cert", origin.certificate, "-key", origin.key, "-www",
        ])
        topology.track(server)
        _ = try server.waitForLine(startingWith: "ACCEPT")
        try topology.resolve(["origin.test"], to: "198.51.100.2")
        let proxy = try topology.startProxy(internet: true, rules: """
            rules:
              - https: secure.example
                respond: { body: "secure\\n" }
            """)
        let result = try topology.inContainer(["curl", "-sS", "-v", "--cacert", origin.ca, "https://origin.test/"])
        #expect(result.status == 0, "\(result.combinedOutput)")
        #expect(result.standardError.contains("issuer: CN=Test Origin CA"))
        let logged = try proxy.waitForLines(containing: "action=pass-through")
        #expect(logged.first?.contains("relay=splice") == true, "\(logged)")
    }

    @Test func interceptionSignsWithTheUsersOwnCA() async throws {
        try await offThread { try self.interceptionSignsWithTheUsersOwnCABody() }
    }

    private func interceptionSignsWithTheUsersOwnCABody() throws {
        let topology = try ProxyTopology()
        let own = try OriginCertificates(in: topology.directory, names: ["unused.test"], addresses: [])
        try topology.resolve(["secure.example"], to: "203.0.113.46")
        try topology.startProxy(internet: false, extra: "ca: { certificate: \(own.ca), key: \(topology.directory.path("origin-ca.key")) }", rules: """
            rules:
              - https: secure.example
                respond: { body: "signed by my CA\\n" }
            """)
        let result = try topology.inContainer(["curl", "-sS", "-v", "--cacert", own.ca, "https://secure.example/"])
        #expect(result.standardOutput == "signed by my CA\n", "\(result.combinedOutput)")
        #expect(result.standardError.contains("issuer: CN=Test Origin CA"))
        #expect(!FileManager.default.fileExists(atPath: topology.caCertificate), "no CA is generated when one is given")
    }

    @Test func aStarRuleInterceptsEveryName() async throws {
        try await offThread { try self.aStarRuleInterceptsEveryNameBody() }
    }

    private func aStarRuleInterceptsEveryNameBody() throws {
        let topology = try ProxyTopology()
        try topology.resolve(["first.test", "second.example.org"], to: "203.0.113.44")
        try topology.startProxy(internet: false, rules: """
            rules:
              - https: first.test
                respond: { body: "first\\n" }
              - https: "*"
                respond: { body: "star\\n" }
            """)
        for (url, expected) in [("https://first.test/", "first\n"), ("https://second.example.org/", "star\n"), ("https://203.0.113.45/", "star\n")] {
            let result = try topology.inContainer(["curl", "-sS", "--cacert", topology.caCertificate, url])
            #expect(result.standardOutput == expected, "\(url): \(result.combinedOutput)")
        }
    }

    @Test func unmatchedTLSIsClosedWithoutInternet() async throws {
        try await offThread { try self.unmatchedTLSIsClosedWithoutInternetBody() }
    }

    private func unmatchedTLSIsClosedWithoutInternetBody() throws {
        let topology = try interceptingTopology(internet: false)
        try topology.resolve(["elsewhere.test"], to: "203.0.113.50")
        let result = try topology.inContainer(["curl", "-sS", "--cacert", topology.caCertificate, "https://elsewhere.test/"])
        #expect(result.status != 0)
    }

    @Test func malformedClientHelloIsClosedAndTheProxyKeepsServing() async throws {
        try await offThread { try self.malformedClientHelloIsClosedAndTheProxyKeepsServingBody() }
    }

    private func malformedClientHelloIsClosedAndTheProxyKeepsServingBody() throws {
        let topology = try interceptingTopology()
        let script = """
            import socket
            s = socket.create_connection(("203.0.113.40", 443), timeout=10)
            s.sendall(bytes([0x16, 0x03, 0x01, 0x00, 0x05, 0x02, 0x00, 0x00, 0x01, 0x00]))
            print("closed" if s.recv(100) == b"" else "answered")
            """
        let broken = try topology.inContainer(["python3", "-c", script])
        #expect(broken.standardOutput == "closed\n", "\(broken.combinedOutput)")
        let result = try topology.inContainer(["curl", "-sS", "--cacert", topology.caCertificate, "https://secure.example/"])
        #expect(result.standardOutput == "secure\n")
    }

    /// Inside intercepted TLS too, a head far too large gets its 431 although the client is still
    /// sending it: close_notify and a TCP half-close after the answer, the rest read and dropped.
    @Test func anOversizedHeadInsideTLSGets431WhileTheClientStillSends() async throws {
        try await offThread { try self.anOversizedHeadInsideTLSGets431WhileTheClientStillSendsBody() }
    }

    private func anOversizedHeadInsideTLSGets431WhileTheClientStillSendsBody() throws {
        let topology = try interceptingTopology()
        let script = """
            import socket, ssl
            context = ssl.create_default_context(cafile="\(topology.caCertificate)")
            raw = socket.create_connection(("secure.example", 443), timeout=10)
            # A plain TCP end instead of close_notify raises here rather than passing for one.
            s = context.wrap_socket(raw, server_hostname="secure.example", suppress_ragged_eofs=False)
            s.sendall(b"GET / HTTP/1.1\\r\\nHost: secure.example\\r\\nX-Big: " + b"a" * 8000000 + b"\\r\\n\\r\\n")
            reply = b"".join(iter(lambda: s.recv(65536), b""))  # to close_notify
            print(reply.split(b"\\r\\n")[0].decode(), flush=True)
            """
        let result = try topology.inContainer(["python3", "-c", script])
        #expect(result.standardOutput == "HTTP/1.1 431 Request Header Fields Too Large\n", "\(result.combinedOutput)")
    }
}
