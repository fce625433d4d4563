import Containers
import EgressTesting
import Foundation
import Workers
import XCTest

/// Names as a container's clients resolve them (glibc through `/etc/resolv.conf` to the stub).
final class ContainerDNSTests: XCTestCase {
    private let lookups = """
        for name in api.test known.test unknown.test localhost; do
          python3 -c "import socket, sys
        try: print(sys.argv[1], sorted({a[4][0] for a in socket.getaddrinfo(sys.argv[1], 80, proto=socket.IPPROTO_TCP)}))
        except socket.gaierror as e: print(sys.argv[1], 'gaierror', e.errno)" $name
        done
        getent ahostsv4 api.test | head -1
        """

    func testWithoutInternetOnlyInterceptedNamesResolve() async throws {
        let fixture = try ContainerFixture(self, names: ["known.test": .success(HostAddresses(ipv4: [0xC633_6407]))])
        let container = try fixture.host.makeContainer()
        try container.interceptOutboundHttps("api.test", Worker(TextWorker(text: "api")))
        let (output, _) = try await fixture.run(lookups, in: container)
        XCTAssertTrue(output.contains("api.test ['100::1', '240.240.0.1']"), output)
        XCTAssertTrue(output.contains("known.test gaierror -2"), "a real name does not resolve without internet: \(output)")
        XCTAssertTrue(output.contains("unknown.test gaierror -2"), output)
        XCTAssertTrue(output.contains("localhost ['127.0.0.1'") || output.contains("localhost ['127.0.0.1']"), output)
        XCTAssertTrue(output.contains("240.240.0.1     STREAM api.test"), "AI_ADDRCONFIG lookups work too: \(output)")
    }

    func testWithInternetRealNamesResolveAndInterceptedOnesAlways() async throws {
        let fixture = try ContainerFixture(self, names: ["known.test": .success(HostAddresses(ipv4: [0xC633_6407]))])
        let container = try fixture.host.makeContainer()
        try container.interceptOutboundHttp("api.test", Worker(TextWorker(text: "api")))
        let (output, _) = try await fixture.run(lookups, in: container, internet: true)
        XCTAssertTrue(output.contains("api.test ['100::1', '240.240.0.1']"), "intercepted but unknown upstream: placeholders. \(output)")
        XCTAssertTrue(output.contains("known.test ['198.51.100.7']"), output)
        XCTAssertTrue(output.contains("unknown.test gaierror -2"), output)
    }

    func testAnInterceptedNameResolvesToItsRealAddressWithInternet() async throws {
        let fixture = try ContainerFixture(self, names: ["api.test": .success(HostAddresses(ipv4: [0xCB00_7109]))])
        let container = try fixture.host.makeContainer()
        try container.interceptOutboundHttp("api.test", Worker(TextWorker(text: "handled")))
        let (output, _) = try await fixture.run(
            "getent ahostsv4 api.test | head -1; curl -sS http://api.test/", in: container, internet: true
        )
        XCTAssertTrue(output.hasPrefix("203.0.113.9     STREAM api.test\nhandled\n"), output)
    }
}
