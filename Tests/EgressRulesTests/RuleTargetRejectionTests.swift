import EgressRules
import Testing

@Suite struct RuleTargetRejectionTests {
    /// Expects `text` to be refused with `reason` and a message that names the target.
    private func expectRefusal(
        _ text: String, _ reason: RuleTargetError.Reason, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let error = #expect(throws: RuleTargetError.self, sourceLocation: sourceLocation) {
            try RuleTarget(parsing: text)
        }
        #expect(error?.reason == reason, sourceLocation: sourceLocation)
        #expect(error?.target == text, sourceLocation: sourceLocation)
        #expect(
            error?.description == "invalid rule target \"\(text)\": \(reason)", sourceLocation: sourceLocation)
    }

    @Test(arguments: [
        (RuleTargetError.Reason.empty, "the target is empty"),
        (.whitespace, "whitespace is not allowed"),
        (.missingHost, "the host is missing before ':'"),
        (.missingPort, "the port is missing after ':'"),
        (.portNotNumeric("http"), #"port "http" is not a number"#),
        (.portOutOfRange("0"), "port 0 is out of range 1-65535"),
        (.unbalancedBracket, "'[' has no matching ']'"),
        (.misplacedBracket, "brackets may only enclose an IPv6 address or network at the start, as in [::1]:8080"),
        (.textAfterBracket("80"), #"unexpected "80" after ']'; only a :port may follow"#),
        (.bracketsNeedIPv6("1.2.3.4"), #"brackets are only for IPv6 addresses and networks, and "1.2.3.4" is not one"#),
        (
            .ipv6PortNeedsBrackets(suggestion: "[::1]:80"),
            "an IPv6 address with a port needs brackets, as in [::1]:80 (a bare IPv6 address has no port)"
        ),
        (.invalidIPv6("1:::2"), #""1:::2" is not a valid IPv6 address"#),
        (.invalidIPv4("10.0.0", problem: "it has 3 parts, not 4"), #""10.0.0" is not a valid IPv4 address: it has 3 parts, not 4"#),
        (
            .numericHostname("1.2.3", problem: "it has 3 parts, not 4"),
            #""1.2.3" is not a valid IPv4 address (it has 3 parts, not 4), nor a hostname, whose last label cannot be all digits"#
        ),
        (.zoneID, "IPv6 zone ids such as %eth0 are not supported"),
        (.wildcardInAddress(suggestion: "10.0.0.0/8"), "wildcards are for hostnames; use a CIDR such as 10.0.0.0/8"),
        (.missingPrefixLength, "the prefix length is missing after '/'"),
        (.prefixLengthNotNumeric("x"), #"prefix length "x" is not a number"#),
        (.prefixLengthOutOfRange("33", maximum: 32), "prefix length 33 is out of range 0-32"),
        (.prefixLengthOnHostname("example.com"), #"a prefix length needs an IP address, and "example.com" is not one"#),
        (.hostBitsSet("10.0.0.1/8", suggestion: "10.0.0.0/8"), "10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?"),
        (
            .invalidHostnameCharacter("ü"),
            #"invalid character "ü" in hostname; hostnames allow letters, digits, '-', '_', '.', and '*' in globs (write internationalised names in their xn-- form)"#
        ),
        (.emptyLabel, "empty label in hostname (a leading dot or two dots in a row)"),
        (.labelTooLong("aaa"), #"label "aaa" is longer than 63 characters"#),
        (.nameTooLong(254), "hostname is 254 characters long; the limit is 253"),
        (.numericLastLabel("123"), #"the last label "123" is all digits, which a hostname cannot end in"#),
    ])
    func reasonMessages(reason: RuleTargetError.Reason, message: String) {
        #expect(reason.description == message)
    }

    @Test func messageNamesTargetAndReason() {
        let error = RuleTargetError(target: "10.*.0.1", reason: .wildcardInAddress(suggestion: "10.0.0.0/8"))
        #expect(
            error.description
                == #"invalid rule target "10.*.0.1": wildcards are for hostnames; use a CIDR such as 10.0.0.0/8"#)
        let hostBits = RuleTargetError(target: "10.0.0.1/8", reason: .hostBitsSet("10.0.0.1/8", suggestion: "10.0.0.0/8"))
        #expect(
            hostBits.description
                == #"invalid rule target "10.0.0.1/8": 10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?"#)
        do {
            _ = try RuleTarget(parsing: "exa mple.com")
            Issue.record("whitespace was accepted")
        } catch {
            #expect(error.description == #"invalid rule target "exa mple.com": whitespace is not allowed"#)
        }
    }

    @Test func emptyAndWhitespace() {
        expectRefusal("", .empty)
        expectRefusal(" example.com", .whitespace)
        expectRefusal("example.com\n", .whitespace)
        expectRefusal("example.com:\t80", .whitespace)
        expectRefusal("10.0.0.0/8 ", .whitespace)
        expectRefusal("exa\u{2003}mple.com", .whitespace)
        expectRefusal("example.com\u{00A0}", .whitespace)
    }

    @Test func wildcardsInAddresses() {
        expectRefusal("10.*.0.1", .wildcardInAddress(suggestion: "10.0.0.0/8"))
        expectRefusal("10.0.0.*", .wildcardInAddress(suggestion: "10.0.0.0/24"))
        expectRefusal("192.168.*", .wildcardInAddress(suggestion: "192.168.0.0/16"))
        expectRefusal("*.1.2.3", .wildcardInAddress(suggestion: "10.0.0.0/8"))
        expectRefusal("10.*.0.1:80", .wildcardInAddress(suggestion: "10.0.0.0/8"))
        expectRefusal("10.*/8", .wildcardInAddress(suggestion: "10.0.0.0/8"))
        expectRefusal("fe80::*", .wildcardInAddress(suggestion: "2001:db8::/32"))
        expectRefusal("[2001:db8::*]:443", .wildcardInAddress(suggestion: "2001:db8::/32"))
    }

    @Test func prefixLengths() {
        expectRefusal("10.0.0.0/33", .prefixLengthOutOfRange("33", maximum: 32))
        expectRefusal("10.0.0.0/1000", .prefixLengthOutOfRange("1000", maximum: 32))
        expectRefusal("fe80::/129", .prefixLengthOutOfRange("129", maximum: 128))
        expectRefusal("10.0.0.0/x", .prefixLengthNotNumeric("x"))
        expectRefusal("10.0.0.0/-1", .prefixLengthNotNumeric("-1"))
        expectRefusal("10.0.0.0/", .missingPrefixLength)
        expectRefusal("[fe80::/]:80", .missingPrefixLength)
        expectRefusal("example.com/8", .prefixLengthOnHostname("example.com"))
        expectRefusal("10.0.0.1/8", .hostBitsSet("10.0.0.1/8", suggestion: "10.0.0.0/8"))
        expectRefusal("fe80::1/10", .hostBitsSet("fe80::1/10", suggestion: "fe80::/10"))
        expectRefusal("::ffff:10.0.0.1/104", .hostBitsSet("::ffff:10.0.0.1/104", suggestion: "10.0.0.0/8"))
    }

    @Test func ports() {
        expectRefusal("example.com:0", .portOutOfRange("0"))
        expectRefusal("example.com:65536", .portOutOfRange("65536"))
        expectRefusal("example.com:123456789", .portOutOfRange("123456789"))
        expectRefusal("example.com:http", .portNotNumeric("http"))
        expectRefusal("example.com:-1", .portNotNumeric("-1"))
        expectRefusal("example.com:", .missingPort)
        expectRefusal("[::1]:", .missingPort)
        expectRefusal("[::1]:0", .portOutOfRange("0"))
        expectRefusal(":80", .missingHost)
    }

    @Test func brackets() {
        expectRefusal("[::1", .unbalancedBracket)
        expectRefusal("::1]", .misplacedBracket)
        expectRefusal("example.com[1]", .misplacedBracket)
        expectRefusal("[[::1]]", .misplacedBracket)
        expectRefusal("[::1]]", .misplacedBracket)
        expectRefusal("[::1]80", .textAfterBracket("80"))
        expectRefusal("[1.2.3.4]:80", .bracketsNeedIPv6("1.2.3.4"))
        expectRefusal("[example.com]", .bracketsNeedIPv6("example.com"))
        expectRefusal("[]", .bracketsNeedIPv6(""))
    }

    @Test func ipv6Forms() {
        expectRefusal("fe80::/10:443", .ipv6PortNeedsBrackets(suggestion: "[fe80::/10]:443"))
        expectRefusal("1:2:3:4:5:6:7:8:443", .ipv6PortNeedsBrackets(suggestion: "[1:2:3:4:5:6:7:8]:443"))
        expectRefusal("fe80::1%eth0", .zoneID)
        expectRefusal("[fe80::1%eth0]:80", .zoneID)
        expectRefusal("1:::2", .invalidIPv6("1:::2"))
        expectRefusal("[::g]:80", .invalidIPv6("::g"))
        expectRefusal("example.com:80:90", .invalidIPv6("example.com:80:90"))
    }

    @Test func ipv4Forms() {
        expectRefusal("999.1.1.1", .numericHostname("999.1.1.1", problem: "999 is out of range 0-255"))
        expectRefusal("1.2.3", .numericHostname("1.2.3", problem: "it has 3 parts, not 4"))
        expectRefusal("123", .numericHostname("123", problem: "it has 1 part, not 4"))
        expectRefusal(
            "01.2.3.4", .numericHostname("01.2.3.4", problem: #"the leading zero of "01" is ambiguous (octal or decimal?)"#))
        expectRefusal("1.2.3.4.", .numericHostname("1.2.3.4.", problem: "a part is empty"))
        expectRefusal("10.0.0.256/8", .invalidIPv4("10.0.0.256", problem: "256 is out of range 0-255"))
        expectRefusal("10.0.0/8", .invalidIPv4("10.0.0", problem: "it has 3 parts, not 4"))
    }

    @Test func hostnames() {
        expectRefusal("a..b", .emptyLabel)
        expectRefusal(".example.com", .emptyLabel)
        expectRefusal("example.com..", .emptyLabel)
        expectRefusal(".", .emptyLabel)
        expectRefusal("*..example.com", .emptyLabel)
        expectRefusal("bücher.example", .invalidHostnameCharacter("ü"))
        expectRefusal("exa%mple.com", .invalidHostnameCharacter("%"))
        expectRefusal("a/b.com:80/", .portNotNumeric("80/"))
        expectRefusal("ex*ample?.com", .invalidHostnameCharacter("?"))
        expectRefusal("example*.com!", .invalidHostnameCharacter("!"))
        expectRefusal("example.123", .numericLastLabel("123"))
        expectRefusal("foo*.123", .numericLastLabel("123"))
        let label64 = String(repeating: "a", count: 64)
        expectRefusal("\(label64).com", .labelTooLong(label64))
        let name254 = Array(repeating: String(repeating: "b", count: 49), count: 5).joined(separator: ".") + ".abcd"
        expectRefusal(name254, .nameTooLong(254))
    }
}
