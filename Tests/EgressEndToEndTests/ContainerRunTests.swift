import EgressTesting
import Foundation
import Testing

/// `egressd container run` where the proxy's own side is a test-made namespace linked to an
/// origin namespace, so forwarding and the host resolver can be exercised without anything
/// leaving the machine: names resolve through that namespace's `/etc/hosts`.
@Suite(.requiresRoot, .serialized)
struct ContainerRunTests {
    private let host: NetworkNamespace
    private let origin: NetworkNamespace
    private let link: NamespaceLink
    private let directory: TemporaryDirectory
    private let server: BackgroundProcess
    private let hosts: NamespaceHostsFile

    init() throws {
        host = try NetworkNamespace(prefix: "egh")
        origin = try NetworkNamespace(prefix: "ego")
        link = try NetworkNamespace.link(host, origin)
        directory = try TemporaryDirectory("egress-container-e2e")
        server = try origin.spawn(OriginServer.command(address: link.b.ipv4, port: 80, name: "origin"))
        _ = try server.waitForLine(startingWith: "LISTENING")
        hosts = try NamespaceHostsFile(host, "127.0.0.1 localhost\n\(link.b.ipv4) secrets.test plain.test\n")
    }

    /// `egressd container run` with the config's rule and `settings` (YAML lines) added to it.
    private func run(internet: Bool, env: [String: String] = [:], settings: String = "", _ script: String) throws -> ProcessResult {
        let config = try directory.write("""
            stateDirectory: state
            \(settings)
            rules:
              - http: secrets.test
                forward: { to: origin, setHeaders: { authorization: "Bearer injected" } }
            """, to: "egress.yaml")
        let egressd = ProcessRunner.productsDirectory.appendingPathComponent("egressd").path
        let environment = env.flatMap { ["--env", "\($0.key)=\($0.value)"] }
        return try host.run(
            [egressd, "container", "run", "--config", config, internet ? "--internet" : "--no-internet"] + environment + ["--", "sh", "-c", script]
        )
    }

    @Test func forwardingWithSecretsAndUnmatchedTrafficWithInternet() async throws {
        let result = try await offThread {
            try self.run(internet: true, "curl -sS http://secrets.test/a; echo; curl -sS http://plain.test/b")
        }
        #expect(result.status == 0, "\(result.combinedOutput)")
        let answers = result.standardOutput.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(answers.count == 2, "\(result.combinedOutput)")
        let headers = answers.first?["headers"] as? [String: String]
        #expect(headers?["authorization"] == "Bearer injected", "\(result.standardOutput)")
        #expect(answers.last?["path"] as? String == "/b", "unmatched HTTP is forwarded: \(result.standardOutput)")
        #expect((answers.last?["headers"] as? [String: String])?["authorization"] == nil)
    }

    @Test func unmatchedTLSPassesThroughUntouchedWithInternet() async throws {
        let certificates = try OriginCertificates(in: directory, names: ["plain.test"], addresses: [])
        let tls = try origin.spawn([
            "openssl", "s_server", "-accept", "\(link.b.ipv4):443", "-cert", certificates.certificate, "-key", certificates.key, "-www",
        ])
        _ = try await offThread { try tls.waitForLine(startingWith: "ACCEPT") }
        let originCA = try String(contentsOfFile: certificates.ca, encoding: .utf8)
        let result = try await offThread {
            try self.run(
                internet: true, env: ["ORIGIN_CA": originCA],
                "printf '%s' \"$ORIGIN_CA\" > /tmp/origin-ca.pem; curl -sS --cacert /tmp/origin-ca.pem https://plain.test/ | head -1; echo | openssl s_client -connect plain.test:443 -servername plain.test 2>/dev/null | grep issuer="
            )
        }
        tls.stop()
        #expect(result.standardOutput.contains("<HTML>") || result.standardOutput.contains("<html>"), "\(result.combinedOutput)")
        #expect(result.standardOutput.contains("Test Origin CA"), "the client sees the origin's own certificate: \(result.combinedOutput)")
    }

    /// The host namespace resets every TCP connection to the origin that lacks the mark, so only
    /// the proxy's marked upstream sockets get through: forwarded by a rule, forwarded unmatched
    /// and passed through (a client that waits 3 s, well past the 1 s sniff timeout);
    /// `timeouts.idle` closes an idle kept-alive connection.
    @Test func theConfigsUpstreamMarkAndTimeoutsApplyToTheContainer() async throws {
        try host.iptables(
            "-A", "OUTPUT", "-p", "tcp", "-d", link.b.ipv4, "-m", "mark", "!", "--mark", "0x539", "-j", "REJECT", "--reject-with", "tcp-reset"
        )
        let unmarked = try await offThread { try self.host.run(["curl", "-sS", "--max-time", "10", "http://\(self.link.b.ipv4)/"]) }
        #expect(unmarked.status != 0, "the rule resets unmarked connections: \(unmarked.combinedOutput)")
        let result = try await offThread {
            try self.run(internet: true, settings: "upstream: { mark: 0x539 }\ntimeouts: { idle: 1, sniff: 1 }", """
                curl -sS http://secrets.test/a; echo
                curl -sS http://plain.test/b; echo
                exec python3 - <<'EOF'
                import socket, time
                opaque = socket.create_connection(("plain.test", 80), timeout=15)
                time.sleep(3)
                opaque.sendall(b"GET /c HTTP/1.1\\r\\nHost: plain.test\\r\\nConnection: close\\r\\n\\r\\n")
                answer = b""
                while part := opaque.recv(65536):
                    answer += part
                print(answer.split(b"\\r\\n\\r\\n", 1)[-1].decode(), flush=True)
                kept = socket.create_connection(("plain.test", 80), timeout=15)
                kept.sendall(b"GET /d HTTP/1.1\\r\\nHost: plain.test\\r\\n\\r\\n")
                answer = b""
                while b"/d" not in answer and (part := kept.recv(65536)):
                    answer += part
                start = time.monotonic()
                try:
                    rest = kept.recv(65536)
                    print("idle close:", rest == b"" and 0.5 < time.monotonic() - start < 5, flush=True)
                except socket.timeout:
                    print("idle close: still open after 15 s", flush=True)
                EOF
                """)
        }
        #expect(result.status == 0, "\(result.combinedOutput)")
        let paths = result.standardOutput.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["path"] as? String
        }
        #expect(paths == ["/a", "/b", "/c"], "every upstream connection carried the mark: \(result.combinedOutput)")
        #expect(result.standardOutput.contains("Bearer injected"), "/a went through its forward rule: \(result.combinedOutput)")
        let passedThrough = result.standardError.split(separator: "\n").contains { $0.contains("action=pass-through") && $0.contains("relay=") }
        #expect(passedThrough, "the waiting client was passed through: \(result.standardError)")
        #expect(result.standardOutput.contains("idle close: True\n"), "\(result.combinedOutput)")
    }

    @Test func withoutInternetUnmatchedTrafficIsDenied() async throws {
        let result = try await offThread {
            try self.run(internet: false, "curl -sS http://plain.test/; echo \"dns=$?\"; curl -sS -w ' %{http_code}' http://\(self.link.b.ipv4)/; echo")
        }
        #expect(result.standardOutput.contains("dns=6"), "an unintercepted name does not resolve: \(result.combinedOutput)")
        #expect(result.standardOutput.contains("egress: request to \(link.b.ipv4) denied"), "\(result.combinedOutput)")
        #expect(result.standardOutput.contains(" 403"), "\(result.combinedOutput)")
    }
}

/// `/etc/netns/NAME/hosts` (what `ip netns exec NAME` shows as `/etc/hosts`), removed with the
/// object, also when a test fails.
private final class NamespaceHostsFile: Sendable {
    private let directory: String

    init(_ namespace: NetworkNamespace, _ contents: String) throws {
        directory = "/etc/netns/\(namespace.name)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try contents.write(toFile: directory + "/hosts", atomically: true, encoding: .utf8)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }
}
