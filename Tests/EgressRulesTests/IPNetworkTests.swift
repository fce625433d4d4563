import EgressRules
import Testing

@Suite struct IPNetworkTests {
    @Test func containsByPrefix() throws {
        let network = try #require(IPNetwork("10.0.0.0/8"))
        #expect(network.contains(.v4(0x0a00_0000)))
        #expect(network.contains(.v4(0x0aff_ffff)))
        #expect(!network.contains(.v4(0x0b00_0000)))
        #expect(!network.contains(.v4(0x0900_0000)))
        #expect(network.contains(try #require(IPAddress("::ffff:10.9.8.7"))))
        #expect(!network.contains(try #require(IPAddress("::a09:807"))))
    }

    @Test func zeroAndFullLengths() throws {
        let everything = try #require(IPNetwork("0.0.0.0/0"))
        #expect(everything.contains(.v4(0xffff_ffff)))
        #expect(!everything.contains(.v6(1)))
        let everyIPv6 = try #require(IPNetwork("::/0"))
        #expect(everyIPv6.contains(.v6(UInt128.max)))
        #expect(!everyIPv6.contains(.v4(1)), "IPv4 addresses are not in IPv6 networks")
        let single = try #require(IPNetwork("192.0.2.1"))
        #expect(single.prefixLength == 32 && single.isSingleAddress)
        #expect(single.contains(.v4(0xc000_0201)) && !single.contains(.v4(0xc000_0202)))
        #expect(IPNetwork("2001:db8::1")?.prefixLength == 128)
    }

    @Test func ipv6Prefixes() throws {
        let linkLocal = try #require(IPNetwork("fe80::/10"))
        #expect(linkLocal.contains(try #require(IPAddress("fe80::1"))))
        #expect(linkLocal.contains(try #require(IPAddress("febf:ffff::1"))))
        #expect(!linkLocal.contains(try #require(IPAddress("fec0::1"))))
        let odd = try #require(IPNetwork("2001:db8::/33"))
        #expect(odd.contains(try #require(IPAddress("2001:db8:7fff::1"))))
        #expect(!odd.contains(try #require(IPAddress("2001:db8:8000::1"))))
        #expect(odd.description == "2001:db8::/33")
    }

    @Test func mappedNetworksBecomeIPv4() throws {
        #expect(IPNetwork("::ffff:10.0.0.0/104") == IPNetwork("10.0.0.0/8"))
        #expect(IPNetwork("::ffff:0:0/96")?.description == "0.0.0.0/0")
        #expect(IPNetwork("::ffff:1.2.3.4")?.description == "1.2.3.4/32")
        #expect(IPNetwork("::ffff:0:0/95") == nil, "host bits set")
        let wide = try #require(IPNetwork(address: .v6(0xffff_0000_0000), prefixLength: 95))
        #expect(!wide.address.isIPv4 && wide.description == "::fffe:0:0/95")
    }

    @Test func memberwiseInitMasksHostBits() throws {
        let network = try #require(IPNetwork(address: .v4(0x0a01_0203), prefixLength: 16))
        #expect(network.description == "10.1.0.0/16")
        #expect(IPNetwork(address: .v4(0), prefixLength: 33) == nil)
        #expect(IPNetwork(address: .v4(0), prefixLength: -1) == nil)
        #expect(IPNetwork(address: .v6(0), prefixLength: 129) == nil)
        #expect(IPNetwork(address: .v6(0xffff_0a01_0203), prefixLength: 112)?.description == "10.1.0.0/16")
        #expect(IPNetwork(singleAddress: .v6(0xffff_0a01_0203)).description == "10.1.2.3/32")
    }

    @Test(arguments: ["10.0.0.1/8", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/x", "::1/129", "fe80::1/10",
                      "example.com/8", "[::1]/128", "10.0.0.0/8:80", "10.*.0.0/16", ""])
    func textInitRefuses(text: String) {
        #expect(IPNetwork(text) == nil)
    }
}
