import EgressRules
import Testing

@Suite struct IPAddressTests {
    @Test(arguments: [
        ("0.0.0.0", 0x0000_0000 as UInt32),
        ("1.2.3.4", 0x0102_0304),
        ("10.0.0.1", 0x0a00_0001),
        ("255.255.255.255", 0xffff_ffff),
        ("192.168.100.200", 0xc0a8_64c8),
    ])
    func parsesDottedQuads(text: String, value: UInt32) {
        #expect(IPAddress(text) == .v4(value))
        #expect(IPAddress(text)?.description == text)
    }

    @Test(arguments: [
        "", "1", "1.2.3", "1.2.3.4.5", "1..2.3", ".1.2.3", "1.2.3.", "256.1.1.1", "1.2.3.1000",
        "01.2.3.4", "1.2.3.04", "00.0.0.0", "1.2.3.a", "1.2.3.4 ", " 1.2.3.4", "+1.2.3.4", "0x1.2.3.4",
        "1.2.3.4/32", "99999999999.1.1.1",
    ])
    func rejectsMalformedIPv4(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test(arguments: [
        ("::", "::"),
        ("::1", "::1"),
        ("1::", "1::"),
        ("2001:db8::1", "2001:db8::1"),
        ("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
        ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"),
        ("::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"),
        ("fe80::1:2", "fe80::1:2"),
        ("FFFF:ffff:FFFF:ffff:FFFF:ffff:FFFF:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        ("::1.2.3.4", "::102:304"),
        ("64:ff9b::192.0.2.33", "64:ff9b::c000:221"),
        ("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"),
        ("0:0:0:0:0:0:0:0", "::"),
    ])
    func parsesIPv6AndPrintsRFC5952(text: String, canonical: String) throws {
        let address = try #require(IPAddress(text))
        #expect(address.description == canonical)
        #expect(IPAddress(canonical) == address)
        guard case .v6 = address else {
            Issue.record("\(text) should be IPv6")
            return
        }
    }

    @Test(arguments: [
        ":", ":::", "1:::2", "::1::", "1::2::3", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8",
        "1:2:3:4:5:6:7", "12345::", "g::", ":1::", "1::2:", "1:2:3:4:5:6:7:1.2.3.4", "::1.2.3", "::01.2.3.4",
        "::1.2.3.4:5", "fe80::1%eth0", "[::1]", "::1/128", "1.2.3.4::",
    ])
    func rejectsMalformedIPv6(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test func mappedAddressesNormaliseToIPv4() throws {
        let mapped = try #require(IPAddress("::ffff:10.1.2.3"))
        #expect(mapped == .v4(0x0a01_0203))
        #expect(IPAddress("::FFFF:a01:203") == .v4(0x0a01_0203))
        #expect(IPAddress(ipv6: 0xffff_0a01_0203) == .v4(0x0a01_0203))
        #expect(mapped.description == "10.1.2.3")
        let raw = IPAddress.v6(0xffff_0a01_0203)
        #expect(raw == mapped)
        #expect(raw.hashValue == mapped.hashValue)
        #expect(raw.normalized == .v4(0x0a01_0203))
        #expect(raw.description == "10.1.2.3")
        #expect(raw.isIPv4)
        #expect(IPAddress("::fffe:10.1.2.3") != mapped)
    }

    @Test func conveniences() {
        #expect(IPAddress(ipv4: 10, 0, 0, 1) == IPAddress("10.0.0.1"))
        #expect(IPAddress(ipv4: 0x7f00_0001).description == "127.0.0.1")
        #expect(IPAddress(networkBytes: [192, 0, 2, 1]) == IPAddress("192.0.2.1"))
        let loopback: [UInt8] = Array(repeating: 0, count: 15) + [1]
        #expect(IPAddress(networkBytes: loopback) == IPAddress("::1"))
        let mapped: [UInt8] = Array(repeating: 0, count: 10) + [0xff, 0xff, 198, 51, 100, 7]
        #expect(IPAddress(networkBytes: mapped) == .v4(0xc633_6407))
        #expect(IPAddress(networkBytes: [1, 2, 3]) == nil)
        #expect(!IPAddress.v6(1).isIPv4)
    }
}
