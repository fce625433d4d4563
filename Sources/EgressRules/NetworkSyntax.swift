/// Parses `address` and `address/length` (IPv4 or IPv6, no brackets, no port) into a network,
/// with a reason when the text is refused.
enum NetworkSyntax {
    typealias Reason = RuleTargetError.Reason

    /// Parses a network or a single address. Host bits past the prefix are refused, not masked.
    static func parse(_ text: Substring) -> Result<IPNetwork, Reason> {
        let slash = text.firstIndex(ofASCII: "/")
        let addressText = text[..<(slash ?? text.endIndex)]
        if addressText.contains(ascii: "*") {
            return .failure(.wildcardInAddress(suggestion: wildcardSuggestion(for: addressText)))
        }
        let isIPv6 = addressText.contains(ascii: ":")
        if isIPv6 && addressText.contains(ascii: "%") {
            return .failure(.zoneID)
        }
        let maximum = isIPv6 ? 128 : 32
        var prefixLength = maximum
        if let slash {
            switch parsePrefixLength(text[text.index(after: slash)...], maximum: maximum) {
            case .success(let length): prefixLength = length
            case .failure(let reason): return .failure(reason)
            }
        }
        let parsed = withUTF8Bytes(of: addressText) { bytes in
            isIPv6 ? parseIPv6Network(bytes, prefixLength: prefixLength)
                : parseIPv4Network(bytes, prefixLength: prefixLength)
        }
        switch parsed {
        case .failure(let reason):
            return .failure(reason)
        case .success(let result) where result.hasHostBits:
            return .failure(.hostBitsSet(String(text), suggestion: result.network.description))
        case .success(let result):
            return .success(result.network)
        }
    }

    private static func parseIPv4Network(
        _ bytes: UTF8Bytes, prefixLength: Int
    ) -> Result<(network: IPNetwork, hasHostBits: Bool), Reason> {
        switch IPAddressSyntax.parseIPv4(bytes) {
        case .success(let value):
            let network = IPNetwork(ipv4: value, prefixLength: prefixLength)
            return .success((network, network.address != .v4(value)))
        case .failure(let failure):
            return .failure(.invalidIPv4(String(decoding: bytes, as: UTF8.self), problem: failure.description))
        }
    }

    private static func parseIPv6Network(
        _ bytes: UTF8Bytes, prefixLength: Int
    ) -> Result<(network: IPNetwork, hasHostBits: Bool), Reason> {
        guard case .v6(let high, let low)? = IPAddressSyntax.parseIPv6(bytes) else {
            return .failure(.invalidIPv6(String(decoding: bytes, as: UTF8.self)))
        }
        let value = UInt128(high: high, low: low)
        let hasHostBits = value & IPNetwork.ipv6Mask(prefixLength) != value
        return .success((IPNetwork(ipv6: value, prefixLength: prefixLength), hasHostBits))
    }

    /// Parses the decimal prefix length after a `/`.
    private static func parsePrefixLength(_ text: Substring, maximum: Int) -> Result<Int, Reason> {
        guard !text.isEmpty else { return .failure(.missingPrefixLength) }
        guard text.allBytes(\.isASCIIDigit) else {
            return .failure(.prefixLengthNotNumeric(String(text)))
        }
        guard text.utf8.count <= 3, let length = Int(text), length <= maximum else {
            return .failure(.prefixLengthOutOfRange(String(text), maximum: maximum))
        }
        return .success(length)
    }

    /// A CIDR that covers what a wildcard address seems to mean: `10.*.0.1` suggests
    /// `10.0.0.0/8` (the whole octets before the first `*`); anything else gets an example.
    static func wildcardSuggestion(for text: Substring) -> String {
        guard !text.contains(ascii: ":") else { return "2001:db8::/32" }
        var octets: [UInt8] = []
        for part in text.split(separator: ".", omittingEmptySubsequences: false) {
            guard let octet = UInt8(part), octets.count < 4, String(octet) == part else { break }
            octets.append(octet)
        }
        guard !octets.isEmpty, octets.count < 4 else { return "10.0.0.0/8" }
        let padded = octets + Array(repeating: 0, count: 4 - octets.count)
        return "\(padded.map(String.init).joined(separator: "."))/\(8 * octets.count)"
    }
}
