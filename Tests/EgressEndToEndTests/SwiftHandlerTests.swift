import EgressTesting
import Foundation
import Testing

/// The library API end to end: `egress-example` (Examples/HandlerExample), a proxy whose
/// handlers are Swift types, in a container namespace with real clients: streaming bodies of
/// 100 MiB both ways, handler failures and timeouts, upstream and client faults.
@Suite(.requiresRoot, .serialized)
struct SwiftHandlerTests {
    static let hundredMiB = 100 * 1024 * 1024
    /// The proxy's peak memory while 100 MiB bodies stream through it stays below this (about
    /// 40 MiB at rest; a body held whole, or piled up unpaced behind TLS, reaches 140 MiB and
    /// more). The headroom is for loaded machines, where the client reads late.
    static let memoryBound = 96 * 1024 * 1024

    private func topology(internet: Bool = false) throws -> (ProxyTopology, BackgroundProcess) {
        let topology = try ProxyTopology()
        try topology.resolve(["hello.example", "upload.example", "download.example", "throws.example", "hangs.example"], to: "203.0.113.60")
        try topology.resolve(["annotated.example"], to: "198.51.100.2")
        let proxy = try topology.startHandlerExample(internet: internet)
        return (topology, proxy)
    }

    @Test func swiftHandlersAnswerHTTPAndHTTPS() async throws {
        try await offThread { try self.swiftHandlersAnswerHTTPAndHTTPSBody() }
    }

    private func swiftHandlersAnswerHTTPAndHTTPSBody() throws {
        let (topology, _) = try topology()
        let plain = try topology.inContainer(["curl", "-sS", "http://hello.example/a?b=c"])
        #expect(plain.standardOutput == "hello from a Swift handler: GET http://hello.example/a?b=c\n", "\(plain.combinedOutput)")
        let secure = try topology.inContainer(["curl", "-sS", "--cacert", topology.caCertificate, "https://hello.example/x"])
        #expect(secure.standardOutput == "hello from a Swift handler, over TLS: GET https://hello.example/x\n", "\(secure.combinedOutput)")
    }

    @Test func uploadsOf100MiBStreamWithAndWithoutALength() async throws {
        try await offThread { try self.uploadsOf100MiBStreamWithAndWithoutALengthBody() }
    }

    private func uploadsOf100MiBStreamWithAndWithoutALengthBody() throws {
        let (topology, proxy) = try topology()
        let file = topology.directory.path("upload.bin")
        #expect(FileManager.default.createFile(atPath: file, contents: nil))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
        try handle.truncate(atOffset: UInt64(Self.hundredMiB))
        try handle.close()
        let sized = try topology.inContainer(["curl", "-sS", "--data-binary", "@\(file)", "http://upload.example/"])
        #expect(sized.standardOutput.hasPrefix("received \(Self.hundredMiB) bytes in "), "\(sized.combinedOutput)")
        let chunked = try topology.inContainer(["sh", "-c", "head -c \(Self.hundredMiB) /dev/zero | curl -sS -T - http://upload.example/"])
        #expect(chunked.standardOutput.hasPrefix("received \(Self.hundredMiB) bytes in "), "\(chunked.combinedOutput)")
        let peak = try #require(proxy.peakResidentBytes)
        #expect(peak < Self.memoryBound, "peak RSS \(peak / 1024 / 1024) MiB: the body must stream, not sit in memory")
    }

    @Test func downloadsOf100MiBStreamFromAHandlerOverHTTPAndHTTPS() async throws {
        try await offThread { try self.downloadsOf100MiBStreamFromAHandlerOverHTTPAndHTTPSBody() }
    }

    private func downloadsOf100MiBStreamFromAHandlerOverHTTPAndHTTPSBody() throws {
        let (topology, proxy) = try topology()
        for url in ["http://download.example/\(Self.hundredMiB)", "http://download.example/\(Self.hundredMiB)?chunked"] {
            let result = try topology.inContainer(["curl", "-sS", "-o", "/dev/null", "-w", "%{size_download}", url], timeout: 120)
            #expect(result.standardOutput == "\(Self.hundredMiB)", "\(url): \(result.combinedOutput)")
        }
        // Over TLS, also from a handler body that never waits: the channel's writability does not
        // show what the TLS handler holds, so the proxy must pace such a body itself.
        for url in ["https://download.example/\(Self.hundredMiB)", "https://download.example/\(Self.hundredMiB)?eager"] {
            let secure = try topology.inContainer([
                "curl", "-sS", "--cacert", topology.caCertificate, "-o", "/dev/null", "-w", "%{size_download}", url,
            ], timeout: 120)
            #expect(secure.standardOutput == "\(Self.hundredMiB)", "\(url): \(secure.combinedOutput)")
        }
        let peak = try #require(proxy.peakResidentBytes)
        #expect(peak < Self.memoryBound, "peak RSS \(peak / 1024 / 1024) MiB: the body must stream, not sit in memory")
    }

    @Test func downloadsOf100MiBStreamThroughForwarding() async throws {
        try await offThread { try self.downloadsOf100MiBStreamThroughForwardingBody() }
    }

    private func downloadsOf100MiBStreamThroughForwardingBody() throws {
        let (topology, proxy) = try topology(internet: true)
        try topology.startOrigin()
        let viaHandler = try topology.inContainer([
            "curl", "-sS", "-D", "-", "-o", "/dev/null", "-w", "%{size_download}", "http://annotated.example/bytes/\(Self.hundredMiB)",
        ], timeout: 120)
        #expect(viaHandler.standardOutput.lowercased().contains("x-annotated-by: egress example"), "\(viaHandler.combinedOutput)")
        #expect(viaHandler.standardOutput.hasSuffix("\(Self.hundredMiB)"))
        let unmatched = try topology.inContainer([
            "curl", "-sS", "-o", "/dev/null", "-w", "%{size_download}", "http://198.51.100.2/bytes/\(Self.hundredMiB)",
        ], timeout: 120)
        #expect(unmatched.standardOutput == "\(Self.hundredMiB)", "\(unmatched.combinedOutput)")
        let peak = try #require(proxy.peakResidentBytes)
        #expect(peak < Self.memoryBound, "peak RSS \(peak / 1024 / 1024) MiB: the body must stream, not sit in memory")
    }

    @Test func downloadsOf100MiBStreamThroughInterceptedTLSForwarding() async throws {
        try await offThread { try self.downloadsOf100MiBStreamThroughInterceptedTLSForwardingBody() }
    }

    private func downloadsOf100MiBStreamThroughInterceptedTLSForwardingBody() throws {
        let topology = try ProxyTopology()
        try topology.resolve(["fwd.example"], to: "203.0.113.61")
        try topology.startOrigin()
        let proxy = try topology.startProxy(internet: false, rules: """
            rules:
              - https: fwd.example
                forward: { to: "http://198.51.100.2:80" }
            """)
        for _ in 0..<2 {
            let result = try topology.inContainer([
                "curl", "-sS", "--cacert", topology.caCertificate, "-o", "/dev/null", "-w", "%{size_download}",
                "https://fwd.example/bytes/\(Self.hundredMiB)",
            ], timeout: 120)
            #expect(result.standardOutput == "\(Self.hundredMiB)", "\(result.combinedOutput)")
        }
        let peak = try #require(proxy.peakResidentBytes)
        #expect(peak < Self.memoryBound, "peak RSS \(peak / 1024 / 1024) MiB: the body must stream, not sit in memory")
    }

    @Test func aThrowingOrHangingHandlerGetsA502AndTheProxyKeepsServing() async throws {
        try await offThread { try self.aThrowingOrHangingHandlerGetsA502AndTheProxyKeepsServingBody() }
    }

    private func aThrowingOrHangingHandlerGetsA502AndTheProxyKeepsServingBody() throws {
        let (topology, _) = try topology()
        let thrown = try topology.inContainer(["curl", "-sS", "-w", "%{http_code}", "http://throws.example/"])
        #expect(thrown.standardOutput == "egress: handler Failing failed: the example handler broke on purpose\n502", "\(thrown.combinedOutput)")
        let hung = try topology.inContainer(["curl", "-sS", "-w", "%{http_code}", "http://hangs.example/"])
        #expect(hung.standardOutput == "egress: handler Hanging did not answer within 1.0 seconds\n502", "\(hung.combinedOutput)")
        let after = try topology.inContainer(["curl", "-sS", "http://hello.example/"])
        #expect(after.standardOutput.hasPrefix("hello from"))
    }

    @Test func anUpstreamThatIsDownOrResetsGivesA502() async throws {
        try await offThread { try self.anUpstreamThatIsDownOrResetsGivesA502Body() }
    }

    private func anUpstreamThatIsDownOrResetsGivesA502Body() throws {
        let (topology, _) = try topology(internet: true)
        // No origin listens: the handler's own fetch fails, and so does plain forwarding.
        let down = try topology.inContainer(["curl", "-sS", "-w", "%{http_code}", "http://annotated.example/"])
        #expect(down.standardOutput.hasPrefix("egress: handler Annotator failed: cannot connect to http://annotated.example:80: connection refused"), "\(down.combinedOutput)")
        #expect(down.standardOutput.hasSuffix("502"))
        let forwarded = try topology.inContainer(["curl", "-sS", "-w", "%{http_code}", "http://198.51.100.2:81/"])
        #expect(forwarded.standardOutput.hasPrefix("egress: upstream http://198.51.100.2:81 failed: cannot connect"), "\(forwarded.combinedOutput)")
        let resetter = try topology.origin.spawn(["python3", "-u", "-c", """
            import socket, struct
            server = socket.socket(); server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind(("198.51.100.2", 8081)); server.listen(); print("LISTENING", flush=True)
            while True:
                client, _ = server.accept(); client.recv(65536)
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); client.close()
            """])
        topology.track(resetter)
        _ = try resetter.waitForLine(startingWith: "LISTENING")
        let reset = try topology.inContainer(["curl", "-sS", "-w", "%{http_code}", "http://198.51.100.2:8081/"])
        #expect(reset.standardOutput.contains("egress: upstream http://198.51.100.2:8081"), "\(reset.combinedOutput)")
        #expect(reset.standardOutput.hasSuffix("502"))
    }

    @Test func aClientThatDisconnectsMidBodyLeavesTheProxyServing() async throws {
        try await offThread { try self.aClientThatDisconnectsMidBodyLeavesTheProxyServingBody() }
    }

    private func aClientThatDisconnectsMidBodyLeavesTheProxyServingBody() throws {
        let (topology, _) = try topology()
        let script = """
            import socket
            s = socket.create_connection(("203.0.113.60", 80), timeout=10)
            s.sendall(b"POST / HTTP/1.1\\r\\nHost: upload.example\\r\\nContent-Length: 10000000\\r\\n\\r\\n" + b"x" * 1000000)
            s.close()
            print("gone")
            """
        #expect(try topology.inContainer(["python3", "-c", script]).standardOutput == "gone\n")
        let after = try topology.inContainer(["curl", "-sS", "--data-binary", "abc", "http://upload.example/"])
        #expect(after.standardOutput == "received 3 bytes in 1 chunks\n", "\(after.combinedOutput)")
    }

    @Test func aServerThatSpeaksFirstWorksThroughTheProxy() async throws {
        try await offThread { try self.aServerThatSpeaksFirstWorksThroughTheProxyBody() }
    }

    private func aServerThatSpeaksFirstWorksThroughTheProxyBody() throws {
        let (topology, proxy) = try topology(internet: true)
        let banner = try topology.origin.spawn(["python3", "-u", "-c", """
            import socket
            server = socket.socket(); server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind(("198.51.100.2", 2525)); server.listen(); print("LISTENING", flush=True)
            while True:
                client, _ = server.accept(); client.sendall(b"220 origin ESMTP ready\\r\\n")
                line = client.recv(100); client.sendall(b"250 got " + line); client.close()
            """])
        topology.track(banner)
        _ = try banner.waitForLine(startingWith: "LISTENING")
        let script = """
            import socket
            s = socket.create_connection(("198.51.100.2", 2525), timeout=10)
            print(s.recv(100).decode().strip())
            s.sendall(b"HELO container\\r\\n")
            print(s.recv(100).decode().strip())
            """
        let result = try topology.inContainer(["python3", "-c", script])
        #expect(result.standardOutput == "220 origin ESMTP ready\n250 got HELO container\n", "\(result.combinedOutput)")
        try proxy.waitForLines(containing: "action=pass-through")
    }
}
