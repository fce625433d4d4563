import EgressRules
import Testing

@Suite struct RuleTableTests {
    private let anywhere = IPAddress(ipv4: 203, 0, 113, 9)

    private func table(_ targets: [String], defaultPort: UInt16 = 443) throws -> RuleTable<String> {
        var table = RuleTable<String>(defaultPort: defaultPort)
        for target in targets {
            table.register(try RuleTarget(parsing: target), target)
        }
        return table
    }

    /// The value of the rule that matches, or nil.
    private func match(
        _ table: RuleTable<String>, _ hostname: String?, _ address: IPAddress? = nil, port: UInt16 = 443
    ) -> String? {
        table.match(hostname: hostname, address: address ?? anywhere, port: port)?.value
    }

    @Test func emptyTableMatchesNothing() throws {
        let table = RuleTable<String>(defaultPort: 80)
        #expect(table.count == 0 && table.rules.isEmpty)
        #expect(match(table, "example.com", port: 80) == nil)
        #expect(match(table, nil, port: 80) == nil)
    }

    @Test func defaultPortsAndExplicitPorts() throws {
        let https = try table(["example.com", "api.example.com:8443"])
        #expect(match(https, "example.com", port: 443) == "example.com")
        #expect(match(https, "example.com", port: 80) == nil)
        #expect(match(https, "api.example.com", port: 8443) == "api.example.com:8443")
        #expect(match(https, "api.example.com", port: 443) == nil)
        let http = try table(["example.com", "10.0.0.0/8"], defaultPort: 80)
        #expect(match(http, "example.com", port: 80) == "example.com")
        #expect(match(http, "example.com", port: 443) == nil)
        #expect(match(http, nil, IPAddress(ipv4: 10, 1, 2, 3), port: 80) == "10.0.0.0/8")
        #expect(match(http, nil, IPAddress(ipv4: 10, 1, 2, 3), port: 8080) == nil)
        #expect(http.effectivePort(of: try RuleTarget(parsing: "x.com")) == 80)
        #expect(http.effectivePort(of: try RuleTarget(parsing: "x.com:81")) == 81)
    }

    @Test func targetWithDefaultPortIsTheSameRule() throws {
        var table = try table(["example.com", "other.com"])
        table.register(try RuleTarget(parsing: "Example.com.:443"), "replaced")
        #expect(table.count == 2)
        let found = try #require(table.match(hostname: "example.com", address: anywhere, port: 443))
        #expect(found.value == "replaced" && found.position == 0)
        #expect(found.target.description == "example.com", "the target keeps its first spelling")
    }

    @Test func caseAndTrailingDotAreIgnored() throws {
        let table = try table(["Example.COM.", "*.Glob.Example"])
        for query in ["example.com", "EXAMPLE.COM", "Example.Com.", "example.com."] {
            #expect(match(table, query) == "Example.COM.", "\(query)")
        }
        #expect(match(table, "WWW.glob.EXAMPLE.") == "*.Glob.Example")
        #expect(match(table, "example.com..") == nil, "only one trailing dot is dropped")
        #expect(match(table, "example.co") == nil)
        #expect(match(table, "xexample.com") == nil)
    }

    @Test(arguments: [
        ("*.example.com", "a.example.com", true),
        ("*.example.com", "a.b.example.com", true),
        ("*.example.com", ".example.com", true),
        ("*.example.com", "example.com", false),
        ("*.example.com", "aexample.com", false),
        ("*.example.com", "example.com.evil", false),
        ("*example.com", "example.com", true),
        ("*example.com", "myexample.com", true),
        ("*example.com", "a.example.com", true),
        ("api-*.example.com", "api-.example.com", true),
        ("api-*.example.com", "api-v1.example.com", true),
        ("api-*.example.com", "api-v1.eu.example.com", true),
        ("api-*.example.com", "api.example.com", false),
        ("api-*.example.com", "xapi-v1.example.com", false),
        ("a*b*c.com", "abc.com", true),
        ("a*b*c.com", "a.x.b.y.c.com", true),
        ("a*b*c.com", "abbbcc.com", true),
        ("a*b*c.com", "acb.com", false),
        ("www.*", "www.example.com", true),
        ("www.*", "www.", false),
        ("www.*", "www", false),
        ("*b*", "abc", true),
        ("*b*", "b", true),
        ("*b*", "ac", false),
        ("*", "anything.at.all", true),
        ("*", "", true),
    ])
    func globSemantics(glob: String, hostname: String, matches: Bool) throws {
        let table = try table([glob])
        #expect((match(table, hostname) != nil) == matches)
    }

    @Test func starAloneAlsoMatchesMissingHostnames() throws {
        let table = try table(["*.example.com", "example.com", "*:8080", "*b*"])
        #expect(match(table, nil) == nil, "only * matches a query without hostname")
        #expect(match(table, nil, port: 8080) == "*:8080")
        #expect(match(table, "anything", port: 8080) == "*:8080")
        let star = try self.table(["*"])
        #expect(match(star, nil) == "*")
        #expect(match(star, nil, .v6(1)) == "*")
    }

    @Test func firstRegisteredWinsAcrossClasses() throws {
        let address = IPAddress(ipv4: 10, 1, 2, 3)
        let orders = [
            ["10.0.0.0/8", "*.example.com", "www.example.com", "*"],
            ["*.example.com", "www.example.com", "10.0.0.0/8", "*"],
            ["www.example.com", "10.0.0.0/8", "*", "*.example.com"],
            ["*", "www.example.com", "10.0.0.0/8", "*.example.com"],
            ["10.1.2.3", "10.0.0.0/8", "*"],
            ["10.0.0.0/8", "10.1.2.3", "*"],
            ["www.*", "*.com", "*example*"],
            ["*.com", "www.*", "*example*"],
            ["*example*", "*.com", "www.*"],
        ]
        for order in orders {
            let table = try table(order)
            let found = table.match(hostname: "www.example.com", address: address, port: 443)
            #expect(found?.value == order[0], "\(order)")
            #expect(found?.position == 0)
        }
        let later = try table(["other.com", "*.other.com", "10.9.0.0/16", "www.example.com", "10.0.0.0/8"])
        #expect(later.match(hostname: "www.example.com", address: address, port: 443)?.position == 3)
        #expect(later.match(hostname: "nothing.com", address: address, port: 443)?.position == 4)
    }

    @Test func replacementKeepsPosition() throws {
        var table = try table(["a.com", "*.com", "10.0.0.0/8", "[::1]:8080"])
        table.register(try RuleTarget(parsing: "*.com"), "new glob")
        table.register(try RuleTarget(parsing: "10.0.0.0/8:443"), "new network")
        table.register(try RuleTarget(parsing: "[0::1]:8080"), "new loopback")
        table.register(try RuleTarget(parsing: "b.com"), "appended")
        #expect(table.rules.map(\.value) == ["a.com", "new glob", "new network", "new loopback", "appended"])
        #expect(table.rules.map(\.target.description) == ["a.com", "*.com", "10.0.0.0/8", "[::1]:8080", "b.com"])
        #expect(match(table, "b.com") == "new glob", "the replaced glob still precedes b.com")
        #expect(table.match(hostname: nil, address: .v6(1), port: 8080)?.position == 3)
    }

    @Test func mappedAddressesMeetOnBothSides() throws {
        let table = try table(["::ffff:10.0.0.0/104", "192.0.2.1", "[::ffff:198.51.100.0/120]:80"])
        #expect(match(table, nil, IPAddress(ipv4: 10, 200, 0, 1)) == "::ffff:10.0.0.0/104")
        #expect(match(table, nil, IPAddress("::ffff:10.200.0.1")) == "::ffff:10.0.0.0/104")
        #expect(match(table, nil, .v6(0xffff_0a00_0001)) == "::ffff:10.0.0.0/104")
        #expect(match(table, nil, IPAddress("::ffff:192.0.2.1")) == "192.0.2.1")
        #expect(match(table, nil, .v6(0xffff_c000_0201)) == "192.0.2.1")
        #expect(match(table, nil, IPAddress(ipv4: 198, 51, 100, 7), port: 80) == "[::ffff:198.51.100.0/120]:80")
        #expect(match(table, nil, IPAddress("::a00:1")) == nil, "IPv4-compatible is not mapped")
    }

    @Test func ipv6Networks() throws {
        let table = try table(["fe80::/10", "[2001:db8::/32]:8443", "::1", "::/0"])
        #expect(match(table, nil, IPAddress("fe80::1234")) == "fe80::/10")
        #expect(match(table, nil, IPAddress("2001:db8:1::1"), port: 8443) == "[2001:db8::/32]:8443")
        #expect(match(table, nil, IPAddress("2001:db8:1::1")) == "::/0")
        #expect(match(table, nil, IPAddress("::1")) == "::1")
        #expect(match(table, nil, IPAddress(ipv4: 1, 2, 3, 4)) == nil, "::/0 holds no IPv4 address")
    }

    @Test func listsRulesInOrder() throws {
        let targets = ["b.com", "*.a.com", "10.0.0.0/8:80", "[fe80::/10]:8080", "*"]
        let table = try table(targets)
        #expect(table.count == 5)
        #expect(table.rules.map(\.value) == targets)
        #expect(table.rules.map(\.target.description) == targets)
    }

    @Test func manyRulesStillFindTheFirst() throws {
        var table = RuleTable<Int>(defaultPort: 443)
        for index in 0..<5000 {
            table.register(try RuleTarget(parsing: "host\(index).example.com"), index)
            table.register(try RuleTarget(parsing: "*.zone\(index).example.com"), -index)
        }
        table.register(try RuleTarget(parsing: "*.example.com"), 1_000_000)
        #expect(match(table, "host4999.example.com") == 4999)
        #expect(match(table, "x.zone17.example.com") == -17)
        #expect(match(table, "host5000.example.com") == 1_000_000)
        #expect(table.count == 10_001)
    }

    private func match(_ table: RuleTable<Int>, _ hostname: String) -> Int? {
        table.match(hostname: hostname, address: anywhere, port: 443)?.value
    }
}
