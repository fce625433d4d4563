import EgressTesting
import Foundation
import Logging
import NIOCore
import NIOPosix
import XCTest

@testable import Containers

/// The server on real UDP sockets bound to loopback in the test's own namespace, queried by real
/// clients. Nothing is sent anywhere but 127.0.0.1 and ::1, and the host resolver is a table.
final class DNSServerTests: XCTestCase {
    private static let resolver = TableResolver([
        "intercepted.test": .success(HostAddresses(ipv4: [0xC633_6407], ipv6: [0x2001_0DB8 << 96 | 7])),
        "plain.test": .success(HostAddresses(ipv4: [0xCB00_7109])),
    ])

    /// Serves UDP sockets on 127.0.0.1 (and ::1 where the machine has IPv6) with internet on and
    /// `intercepted.test` as the one intercepted name; returns the server and its IPv4 port.
    private func startServer() async throws -> (ContainerDNSServer, port: Int) {
        var sockets = [try DNSTestSockets.boundUDP(SocketAddress(ipAddress: "127.0.0.1", port: 0))]
        if let v6 = try? DNSTestSockets.boundUDP(SocketAddress(ipAddress: "::1", port: 0)) { sockets.append(v6) }
        let server = try await ContainerDNSServer.start(
            group: MultiThreadedEventLoopGroup.singleton, boundSockets: sockets,
            policy: ContainerDNSPolicy(isIntercepted: { $0 == "intercepted.test" }, internet: { true }),
            resolver: Self.resolver, logger: Logger(label: "dns-server-test")
        )
        XCTAssertEqual(server.localAddresses.count, sockets.count)
        return (server, try XCTUnwrap(server.localAddresses.first?.port))
    }

    /// Sends one raw query with python3's socket module and returns the response.
    private static let pythonClient = """
        import socket, struct, sys
        host, port, name, qtype = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
        qname = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".") if l) + b"\\0"
        query = struct.pack(">HHHHHH", 0x4242, 0x0100, 1, 0, 0, 0) + qname + struct.pack(">HH", qtype, 1)
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        s.sendto(query, (host, port))
        print(s.recvfrom(4096)[0].hex())
        """

    private func pythonQuery(_ name: String, type: UInt16, host: String = "127.0.0.1", port: Int) async throws -> DecodedResponse {
        let result = try await ProcessRunner.run("python3", ["-c", Self.pythonClient, host, "\(port)", name, "\(type)"])
        XCTAssertEqual(result.status, 0, result.combinedOutput)
        let hex = Array(result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines).utf8)
        let bytes = stride(from: 0, to: hex.count - 1, by: 2).compactMap { UInt8(String(decoding: hex[$0...$0 + 1], as: UTF8.self), radix: 16) }
        return try DecodedResponse(ByteBuffer(bytes: bytes))
    }

    func testPythonClientGetsAnswers() async throws {
        let (server, port) = try await startServer()
        let intercepted = try await pythonQuery("Intercepted.Test", type: DNSRecordType.a, port: port)
        XCTAssertEqual(intercepted.id, 0x4242)
        XCTAssertEqual(intercepted.answers.map(\.data), [[198, 51, 100, 7]])
        XCTAssertEqual(intercepted.questionName, DNSWire.name("Intercepted.Test"))
        let v6 = try await pythonQuery("intercepted.test", type: DNSRecordType.aaaa, port: port)
        XCTAssertEqual(v6.answers.map(\.data), [[0x20, 0x01, 0x0D, 0xB8] + Array(repeating: 0, count: 11) + [7]])
        let missing = try await pythonQuery("missing.test", type: DNSRecordType.a, port: port)
        XCTAssertEqual(missing.responseCode, DNSResponseCode.nameError.rawValue)
        if server.localAddresses.count > 1, let v6Port = server.localAddresses.last?.port {
            let overIPv6 = try await pythonQuery("localhost", type: DNSRecordType.aaaa, host: "::1", port: v6Port)
            XCTAssertEqual(overIPv6.answers.map(\.data), [Array(repeating: 0, count: 15) + [1]])
        }
        await server.close()
    }

    func testDigGetsAnswers() async throws {
        try XCTSkipUnless(ProcessRunner.isInstalled("dig"), "dig is not installed")
        let (server, port) = try await startServer()
        let dig = ["@127.0.0.1", "-p", "\(port)", "+time=3", "+tries=3"]
        let answers = try await ProcessRunner.run("dig", dig + ["+short", "plain.test", "A"])
        XCTAssertEqual(answers.standardOutput.split(separator: "\n"), ["203.0.113.9"], answers.combinedOutput)
        let intercepted = try await ProcessRunner.run("dig", dig + ["+short", "intercepted.test", "AAAA"])
        XCTAssertEqual(intercepted.standardOutput.split(separator: "\n"), ["2001:db8::7"], intercepted.combinedOutput)
        let missing = try await ProcessRunner.run("dig", dig + ["missing.test", "A"])
        XCTAssertTrue(missing.standardOutput.contains("status: NXDOMAIN"), missing.combinedOutput)
        let https = try await ProcessRunner.run("dig", dig + ["intercepted.test", "TYPE65"])
        XCTAssertTrue(https.standardOutput.contains("status: NOERROR"), https.combinedOutput)
        XCTAssertTrue(https.standardOutput.contains("ANSWER: 0"), https.combinedOutput)
        await server.close()
    }

    func testCloseClosesTheSockets() async throws {
        let socket = try DNSTestSockets.boundUDP(SocketAddress(ipAddress: "127.0.0.1", port: 0))
        let server = try await ContainerDNSServer.start(
            group: MultiThreadedEventLoopGroup.singleton, boundSockets: [socket],
            policy: ContainerDNSPolicy(isIntercepted: { _ in false }, internet: { false }), resolver: TableResolver(),
            logger: Logger(label: "dns-server-test")
        )
        XCTAssertTrue(DNSTestSockets.isOpen(socket))
        await server.close()
        XCTAssertFalse(DNSTestSockets.isOpen(socket))
    }

    func testAFailedStartClosesTheSocketsItWasGiven() async throws {
        let served = try DNSTestSockets.boundUDP(SocketAddress(ipAddress: "127.0.0.1", port: 0))
        let unreached = try DNSTestSockets.boundUDP(SocketAddress(ipAddress: "127.0.0.1", port: 0))
        do {
            _ = try await ContainerDNSServer.start(
                group: MultiThreadedEventLoopGroup.singleton, boundSockets: [served, -1, unreached],
                policy: ContainerDNSPolicy(isIntercepted: { _ in false }, internet: { false }), resolver: TableResolver(),
                logger: Logger(label: "dns-server-test")
            )
            XCTFail("a negative descriptor must fail the start")
        } catch {
            XCTAssertFalse(DNSTestSockets.isOpen(served), "the socket already served is closed")
            XCTAssertFalse(DNSTestSockets.isOpen(unreached), "the socket not reached is closed")
        }
    }

    func testSystemResolverResolvesLocalhostFromHostsFile() async throws {
        let addresses = try await SystemHostNameResolver().addresses(of: "localhost")
        XCTAssertTrue(addresses.ipv4.contains(0x7F00_0001) || addresses.ipv6.contains(1), "\(addresses)")
    }
}
