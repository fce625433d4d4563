import EgressLinux
import EgressRules
import EgressTesting
import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization
import XCTest

@testable import Containers

#if canImport(Glibc)
import Glibc
#endif

/// The stub as a container meets it: UDP sockets bound to 127.0.0.1:53 and [::1]:53 inside a
/// test-made namespace with only loopback, `/etc/resolv.conf` pointing at them (through
/// `/etc/netns/NAME/resolv.conf`, which `ip netns exec` mounts), and glibc's resolver, which
/// `curl` and `python3` use, asking. The host resolver is a table.
final class DNSNamespaceTests: XCTestCase {
    func testGlibcClientsInANamespaceResolveThroughTheStub() async throws {
        try XCTSkipUnless(NetworkNamespace.isRoot, "needs root (network namespaces)")
        let namespace = try NetworkNamespace(prefix: "egdns")
        let configuration = "/etc/netns/\(namespace.name)"
        defer {
            try? FileManager.default.removeItem(atPath: configuration)
            namespace.remove()
        }
        try FileManager.default.createDirectory(atPath: configuration, withIntermediateDirectories: true)
        try "nameserver 127.0.0.1\noptions timeout:2 attempts:3\n".write(toFile: "\(configuration)/resolv.conf", atomically: true, encoding: .utf8)

        let internet = Atomic<Bool>(true)
        let sockets = try [IPAddress.loopbackV4, .loopbackV6].map { address in
            try NetworkNamespaceSockets.createDatagramSocket(inNetworkNamespace: namespace.path, address: address, port: 53)
        }
        let server = try await ContainerDNSServer.start(
            group: MultiThreadedEventLoopGroup.singleton, boundSockets: sockets,
            policy: ContainerDNSPolicy(isIntercepted: { $0 == "intercepted.test" }, internet: { internet.load(ordering: .relaxed) }),
            resolver: TableResolver([
                "intercepted.test": .success(HostAddresses(ipv4: [0xC633_6407])), "plain.test": .success(HostAddresses(ipv4: [0xCB00_7109])),
            ]),
            logger: Logger(label: "dns-namespace-test")
        )

        // `getent ahosts` is getaddrinfo(AF_UNSPEC), as curl calls it. (`ahostsv4` would ask
        // nothing: with AI_ADDRCONFIG and no IPv4 address but loopback, glibc gives up at once.)
        func resolve(_ name: String) async throws -> ProcessResult {
            try await offThread { try namespace.run(["getent", "ahosts", name], timeout: 10) }
        }
        // getent exits 2 on a timeout too: a name error is getaddrinfo's EAI_NONAME (-2), which
        // only an answer (NXDOMAIN) gives, not EAI_AGAIN (-3).
        func nameError(_ name: String) async throws -> String {
            let script = "import socket, sys\ntry: socket.getaddrinfo(sys.argv[1], 80); print('resolved')\nexcept socket.gaierror as e: print(e.errno)"
            return try await offThread {
                try namespace.run(["python3", "-c", script, name], timeout: 10).standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
            }
        }
        let intercepted = try await resolve("intercepted.test")
        XCTAssertTrue(intercepted.standardOutput.contains("198.51.100.7"), intercepted.combinedOutput)
        let plain = try await resolve("plain.test")
        XCTAssertTrue(plain.standardOutput.contains("203.0.113.9"), plain.combinedOutput)
        let missing = try await nameError("missing.test")
        XCTAssertEqual(missing, "-2", "NXDOMAIN for a name the resolver does not know")
        let python = try await offThread {
            try namespace.run(["python3", "-c", "import socket; print(socket.gethostbyname('Intercepted.Test.'))"], timeout: 10)
        }
        XCTAssertEqual(python.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines), "198.51.100.7", python.combinedOutput)

        internet.store(false, ordering: .relaxed)
        let placeholder = try await resolve("intercepted.test")
        XCTAssertTrue(placeholder.standardOutput.contains("240.240.0.1"), placeholder.combinedOutput)
        XCTAssertTrue(placeholder.standardOutput.contains("100::1"), placeholder.combinedOutput)
        let offline = try await nameError("plain.test")
        XCTAssertEqual(offline, "-2", "not intercepted, no internet: NXDOMAIN")
        await server.close()
    }
}
