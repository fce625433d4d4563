import EgressRules
import Testing

@Suite struct RuleTargetParsingTests {
    @Test(arguments: [
        ("example.com", "example.com"),
        ("Example.COM.", "example.com"),
        ("example.com:8080", "example.com:8080"),
        ("EXAMPLE.com.:443", "example.com:443"),
        ("localhost", "localhost"),
        ("_dmarc.example.com", "_dmarc.example.com"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("a1.b2.c3d", "a1.b2.c3d"),
        ("*.example.com", "*.example.com"),
        ("api-*.Example.com", "api-*.example.com"),
        ("*", "*"),
        ("*:8080", "*:8080"),
        ("**", "*"),
        ("a*b*c.com", "a*b*c.com"),
        ("a**b.com", "a*b.com"),
        ("*example.com", "*example.com"),
        ("www.*", "www.*"),
        ("1*.example.com", "1*.example.com"),
        ("1.2.3.4", "1.2.3.4"),
        ("1.2.3.4:8080", "1.2.3.4:8080"),
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("10.0.0.0/8:8080", "10.0.0.0/8:8080"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("192.0.2.1/32", "192.0.2.1"),
        ("::1", "::1"),
        ("[::1]", "::1"),
        ("::/0", "::/0"),
        ("fe80::/10", "fe80::/10"),
        ("[::1]:8080", "[::1]:8080"),
        ("[fe80::/10]:8080", "[fe80::/10]:8080"),
        ("[2001:DB8:0:0:0:0:0:1/128]:443", "[2001:db8::1]:443"),
        ("2001:db8::1:8080", "2001:db8::1:8080"),
        ("::ffff:1.2.3.4", "1.2.3.4"),
        ("[::ffff:1.2.3.4]:80", "1.2.3.4:80"),
        ("::ffff:10.0.0.0/104", "10.0.0.0/8"),
        ("example.com:65535", "example.com:65535"),
        ("example.com:1", "example.com:1"),
    ])
    func acceptsAndCanonicalises(text: String, canonical: String) throws {
        let target = try RuleTarget(parsing: text)
        #expect(target.description == canonical)
        #expect(try RuleTarget(parsing: canonical) == target, "the canonical form parses back")
    }

    @Test func hostsAndPorts() throws {
        #expect(try RuleTarget(parsing: "Example.COM.") == RuleTarget(parsing: "example.com"))
        #expect(try RuleTarget(parsing: "example.com").host == .name("example.com"))
        #expect(try RuleTarget(parsing: "example.com").port == nil)
        #expect(try RuleTarget(parsing: "example.com:8080").port == 8080)
        #expect(try RuleTarget(parsing: "*.example.com").host == .glob("*.example.com"))
        #expect(try RuleTarget(parsing: "*").host == .glob("*"))
        let single = try RuleTarget(parsing: "1.2.3.4:80")
        #expect(single.host == .network(try #require(IPNetwork("1.2.3.4/32"))))
        #expect(single.port == 80)
        let bracketed = try RuleTarget(parsing: "[fe80::/10]:8080")
        #expect(bracketed.host == .network(try #require(IPNetwork("fe80::/10"))))
        #expect(bracketed.port == 8080)
        #expect(try RuleTarget(parsing: "[::1]").port == nil)
        #expect(try RuleTarget(parsing: "example.com") != RuleTarget(parsing: "example.com:80"))
    }

    @Test func lengthLimits() throws {
        let label63 = String(repeating: "a", count: 63)
        #expect(try RuleTarget(parsing: "\(label63).com").description == "\(label63).com")
        let name253 = Array(repeating: String(repeating: "b", count: 49), count: 5).joined(separator: ".") + ".abc"
        #expect(name253.count == 253)
        #expect(try RuleTarget(parsing: name253 + ".").description == name253)
    }
}
