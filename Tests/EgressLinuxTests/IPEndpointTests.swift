import EgressLinux
import EgressRules
import Glibc
import NIOCore
import Testing

/// Endpoints as sockets meet them: bytes in network order, families, NIO socket addresses, text.
@Suite struct IPEndpointTests {
    @Test func addressesGiveTheirSocketFamilyAndNetworkBytes() throws {
        let v4 = try #require(IPAddress("203.0.113.10"))
        #expect(v4.networkBytes == [203, 0, 113, 10])
        #expect(v4.socketFamily == AF_INET)
        let v6 = try #require(IPAddress("2001:db8::10"))
        #expect(v6.networkBytes == [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [0x10])
        #expect(v6.socketFamily == AF_INET6)
        let mapped = IPAddress.v6(0xFFFF_C633_6407)   // ::ffff:198.51.100.7, as a socket may report it
        #expect(mapped.networkBytes == [198, 51, 100, 7])
        #expect(mapped.socketFamily == AF_INET)
        #expect(IPAddress.loopbackV4.networkBytes == [127, 0, 0, 1])
        #expect(IPAddress.loopbackV6.networkBytes == [UInt8](repeating: 0, count: 15) + [1])
    }

    @Test func networkBytesRoundTrip() throws {
        for text in ["0.0.0.0", "255.255.255.255", "::", "::1", "fe80::1", "2001:db8:ffff::abcd"] {
            let address = try #require(IPAddress(text))
            #expect(IPAddress(networkBytes: address.networkBytes) == address)
        }
    }

    @Test func socketAddressesBecomeEndpoints() throws {
        let v6 = try #require(IPEndpoint(SocketAddress(ipAddress: "2001:db8::7", port: 443)))
        #expect(v6.description == "[2001:db8::7]:443")
        let mapped = try #require(IPEndpoint(SocketAddress(ipAddress: "::ffff:203.0.113.7", port: 80)))
        #expect(mapped.description == "203.0.113.7:80")
        #expect(mapped.address.isIPv4)
        #expect(mapped.address.networkBytes == [203, 0, 113, 7])
        #expect(IPEndpoint(try SocketAddress(unixDomainSocketPath: "/tmp/egress-test.sock")) == nil)
        let endpoints: [IPEndpoint] = [v6, mapped, IPEndpoint(address: .loopbackV6, port: 1)]
        #expect(Set(endpoints).count == 3)
    }

    @Test func endpointsPrintAsInURLs() throws {
        #expect(IPEndpoint(address: try #require(IPAddress("203.0.113.10")), port: 80).description == "203.0.113.10:80")
        #expect(IPEndpoint(address: try #require(IPAddress("2001:db8::10")), port: 443).description == "[2001:db8::10]:443")
    }

    @Test func textReadsBackAsTheEndpointItDescribes() throws {
        for text in ["203.0.113.10:80", "[2001:db8::10]:443", "[::1]:0"] {
            let endpoint = try #require(IPEndpoint(parsing: text), "\(text)")
            #expect(endpoint.description == text)
        }
        // Without brackets an IPv6 address is refused: its last group would pass for a port.
        for text in ["203.0.113.10", "203.0.113.10:65536", "example.com:80", "[2001:db8::10]", ":80", "203.0.113.10:-1", "::1", "2001:db8::10:443"] {
            #expect(IPEndpoint(parsing: text) == nil, "\(text)")
        }
    }
}
