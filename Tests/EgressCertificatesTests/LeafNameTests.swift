import EgressCertificates
import Testing

@Suite struct LeafNameTests {
    @Test(arguments: [
        ("Example.COM", "example.com", false),
        ("example.com.", "example.com", false),
        ("*.example.com", "*.example.com", false),
        ("under_score.example", "under_score.example", false),
        ("198.51.100.1", "198.51.100.1", true),
        ("2001:DB8:0:0::1", "2001:db8::1", true),
        ("[2001:db8::1]", "2001:db8::1", true),
    ])
    func acceptsAndNormalises(input: String, value: String, isIPAddress: Bool) throws {
        let name = try LeafName(input)
        #expect(name.value == value)
        #expect(name.isIPAddress == isIPAddress)
    }

    @Test(arguments: [
        "", ".", "a..b", "-leading.example", "trailing-.example", "spa ce.example", "comma,DNS:evil.example",
        "nul\u{0}.example", "*", "*.com", "a.*.example", String(repeating: "a", count: 64) + ".example",
        String(repeating: "abcdefghi.", count: 26),
    ])
    func rejectsWithAReason(input: String) {
        let error = #expect(throws: CertificateError.self) { try LeafName(input) }
        #expect(error?.description.hasPrefix("invalid certificate name") == true)
    }
}
