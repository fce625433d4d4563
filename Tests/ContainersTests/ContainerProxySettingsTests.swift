import Containers
import EgressProxy
import EgressTesting
import Foundation
import NIOCore
import Workers
import XCTest

/// The host's proxy settings (upstream mark, sniff and idle timeouts) reach the proxy that serves
/// its containers, and settings that cannot be used are refused before anything is made.
final class ContainerProxySettingsTests: XCTestCase {
    func testTheSettingsReachTheContainersServices() throws {
        let fixture = try ContainerFixture(self, configuration: .init(settings: .init(
            upstreamMark: 0x539, sniffTimeout: .seconds(2), idleTimeout: .milliseconds(7500)
        )))
        let services = fixture.host.services
        XCTAssertEqual(services.upstreamMark, 0x539, "pass-through sockets get the mark")
        XCTAssertEqual(services.limits.sniffTimeout, .seconds(2))
        XCTAssertEqual(services.limits.idleTimeout, .milliseconds(7500))
    }

    func testUnusableSettingsAreRefusedBeforeAnythingIsMade() throws {
        let cases: [(ContainerHost.Configuration, String)] = [
            (.init(settings: .init(sniffTimeout: .zero)), "sniffTimeout: "),
            (.init(settings: .init(idleTimeout: .seconds(-1))), "idleTimeout: "),
            (.init(settings: .init(allow: ["10.0.0.0/33"])), "allow: \"10.0.0.0/33\" is not an address or CIDR range"),
        ]
        for (configuration, expected) in cases {
            let directory = try TemporaryDirectory("egress-host-settings")
            var configuration = configuration
            configuration.settings.stateDirectory = directory.path("state")
            XCTAssertThrowsError(try ContainerHost(configuration: configuration)) { error in
                guard case .invalidOptions(let reason) = error as? ContainerError else { return XCTFail("\(error)") }
                XCTAssertTrue(reason.hasPrefix(expected), reason)
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: directory.path("state")), "nothing was made for \(expected)")
        }
    }

    /// A client that waits 1.5 s before its request is still sniffed as HTTP under a 5 s sniff
    /// timeout (under the default 0.5 s it would be opaque TCP, closed without internet), and its
    /// kept-alive connection is closed after a 1 s idle timeout (the default is 60 s).
    func testTheTimeoutsApplyToContainerConnections() async throws {
        let fixture = try ContainerFixture(self, configuration: .init(settings: .init(sniffTimeout: .seconds(5), idleTimeout: .seconds(1))))
        let container = try fixture.host.makeContainer()
        try container.interceptOutboundHttp("api.test", Worker(TextWorker(text: "from the handler")))
        let (output, _) = try await fixture.run("""
            exec python3 - <<'EOF'
            import socket, time
            connection = socket.create_connection(("api.test", 80), timeout=15)
            time.sleep(1.5)
            connection.sendall(b"GET / HTTP/1.1\\r\\nHost: api.test\\r\\n\\r\\n")
            answer = b""
            while b"from the handler" not in answer:
                part = connection.recv(4096)
                if not part:
                    break
                answer += part
            print("answer:", answer.split(b"\\r\\n")[0].decode(), flush=True)
            if not answer:
                raise SystemExit(1)
            start = time.monotonic()
            try:
                rest = connection.recv(4096)
                print("idle close:", rest == b"" and 0.5 < time.monotonic() - start < 5, flush=True)
            except socket.timeout:
                print("idle close: still open after 15 s", flush=True)
            EOF
            """, in: container)
        XCTAssertTrue(output.contains("answer: HTTP/1.1 200 OK\n"), "sniffed as HTTP after 1.5 s: \(output)")
        XCTAssertTrue(output.contains("idle close: True\n"), "closed after about 1 s idle: \(output)")
    }
}
