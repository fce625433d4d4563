import EgressLinux
import Testing

/// Addresses as text, bytes and host-order integers; IPv4-mapped addresses unwrapped.
@Suite struct IPAddressTests {
    @Test func parsesAndFormatsIPv4() throws {
        let address = try #require(IPAddress("203.0.113.10"))
        #expect(address == .v4(0xCB00_710A))
        #expect(address.bytes == [203, 0, 113, 10])
        #expect(address.description == "203.0.113.10")
        #expect(address.family == .v4)
    }

    @Test func parsesAndFormatsIPv6() throws {
        let address = try #require(IPAddress("2001:db8::10"))
        #expect(address == .v6(high: 0x2001_0DB8_0000_0000, low: 0x10))
        #expect(address.bytes == [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [0x10])
        #expect(address.description == "2001:db8::10")
        #expect(address.family == .v6)
    }

    @Test func bytesRoundTrip() throws {
        for text in ["0.0.0.0", "255.255.255.255", "::", "::1", "fe80::1", "2001:db8:ffff::abcd"] {
            let address = try #require(IPAddress(text))
            #expect(IPAddress(bytes: address.bytes) == address)
            #expect(address.description == text)
        }
        #expect(IPAddress(bytes: [1, 2, 3]) == nil)
    }

    @Test func rejectsWhatIsNotAnAddress() {
        for text in ["", "example.com", "256.0.0.1", "1.2.3", "2001:db8::g", "[::1]", "203.0.113.10:80"] {
            #expect(IPAddress(text) == nil, "\(text)")
        }
    }

    @Test func unmapsIPv4MappedAddresses() throws {
        let mapped = try #require(IPAddress("::ffff:198.51.100.7"))
        #expect(mapped.family == .v6)
        #expect(mapped.unmapped == IPAddress("198.51.100.7"))
        #expect(IPAddress.loopbackV6.unmapped == .loopbackV6)
        #expect(IPAddress.loopbackV4.unmapped == .loopbackV4)
    }

    @Test func endpointsPrintAsInURLs() throws {
        #expect(IPEndpoint(address: try #require(IPAddress("203.0.113.10")), port: 80).description == "203.0.113.10:80")
        #expect(IPEndpoint(address: try #require(IPAddress("2001:db8::10")), port: 443).description == "[2001:db8::10]:443")
        #expect(IPEndpoint(address: .loopbackV4, port: 1).addressBytes == [127, 0, 0, 1])
    }
}
