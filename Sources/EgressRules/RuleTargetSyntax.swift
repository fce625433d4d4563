/// Splits a rule target into host and port and parses each part.
enum RuleTargetSyntax {
    typealias Reason = RuleTargetError.Reason

    /// Parses the whole target text.
    static func parse(_ text: String) -> Result<(RuleTarget.Host, UInt16?), Reason> {
        guard !text.isEmpty else { return .failure(.empty) }
        if text.containsWhitespace { return .failure(.whitespace) }
        let whole = text[...]
        if whole.first == "[" {
            return parseBracketed(whole.dropFirst())
        }
        if whole.contains(ascii: "[") || whole.contains(ascii: "]") {
            return .failure(.misplacedBracket)
        }
        let colons = whole.utf8.count(where: { $0 == UInt8(ascii: ":") })
        if colons >= 2 {
            return parseBareIPv6(whole).map { (.network($0), nil) }
        }
        guard colons == 1, let colon = whole.firstIndex(ofASCII: ":") else {
            return parseHost(whole).map { ($0, nil) }
        }
        let hostText = whole[..<colon]
        guard !hostText.isEmpty else { return .failure(.missingHost) }
        return parsePort(whole[whole.index(after: colon)...]).flatMap { port in
            parseHost(hostText).map { ($0, port) }
        }
    }

    /// Parses what follows a leading `[`: an IPv6 address or network, `]`, and an optional port.
    private static func parseBracketed(_ text: Substring) -> Result<(RuleTarget.Host, UInt16?), Reason> {
        guard let close = text.firstIndex(ofASCII: "]") else { return .failure(.unbalancedBracket) }
        let inner = text[..<close]
        let rest = text[text.index(after: close)...]
        if inner.contains(ascii: "[") || rest.contains(ascii: "[") || rest.contains(ascii: "]") {
            return .failure(.misplacedBracket)
        }
        guard inner.contains(ascii: ":") else { return .failure(.bracketsNeedIPv6(String(inner))) }
        var port: UInt16?
        if !rest.isEmpty {
            guard rest.first == ":" else { return .failure(.textAfterBracket(String(rest))) }
            switch parsePort(rest.dropFirst()) {
            case .success(let value): port = value
            case .failure(let reason): return .failure(reason)
            }
        }
        return NetworkSyntax.parse(inner).map { (.network($0), port) }
    }

    /// Parses an IPv6 address or network without brackets, which therefore has no port. When the
    /// text fails but would parse without its last `:digits` (not part of a `::`), the error says
    /// to use brackets.
    private static func parseBareIPv6(_ text: Substring) -> Result<IPNetwork, Reason> {
        let parsed = NetworkSyntax.parse(text)
        guard case .failure = parsed, let colon = text.lastIndex(ofASCII: ":") else { return parsed }
        let address = text[..<colon]
        guard address.last != ":" else { return parsed }
        let port = text[text.index(after: colon)...]
        if case .success = parsePort(port), case .success = NetworkSyntax.parse(address) {
            return .failure(.ipv6PortNeedsBrackets(suggestion: "[\(address)]:\(port)"))
        }
        return parsed
    }

    /// Parses a host without brackets, colons or port: a network, a glob, an IPv4 address or a
    /// hostname.
    private static func parseHost(_ text: Substring) -> Result<RuleTarget.Host, Reason> {
        if let slash = text.firstIndex(ofASCII: "/") {
            let address = text[..<slash]
            guard HostnameSyntax.isWildcardAddress(address) || HostnameSyntax.isNumeric(address) else {
                return .failure(.prefixLengthOnHostname(String(address)))
            }
            return NetworkSyntax.parse(text).map(RuleTarget.Host.network)
        }
        if HostnameSyntax.isWildcardAddress(text) {
            return .failure(.wildcardInAddress(suggestion: NetworkSyntax.wildcardSuggestion(for: text)))
        }
        if text.contains(ascii: "*") {
            return HostnameSyntax.canonical(text, isGlob: true).map(RuleTarget.Host.glob)
        }
        if HostnameSyntax.isNumeric(text) {
            return withUTF8Bytes(of: text) { bytes in
                switch IPAddressSyntax.parseIPv4(bytes) {
                case .success(let value):
                    .success(.network(IPNetwork(ipv4: value, prefixLength: 32)))
                case .failure(let failure):
                    .failure(.numericHostname(String(text), problem: failure.description))
                }
            }
        }
        return HostnameSyntax.canonical(text, isGlob: false).map(RuleTarget.Host.name)
    }

    /// Parses a decimal port, 1 to 65535.
    private static func parsePort(_ text: Substring) -> Result<UInt16, Reason> {
        guard !text.isEmpty else { return .failure(.missingPort) }
        guard text.allBytes(\.isASCIIDigit) else { return .failure(.portNotNumeric(String(text))) }
        guard text.utf8.count <= 5, let port = UInt16(text), port != 0 else {
            return .failure(.portOutOfRange(String(text)))
        }
        return .success(port)
    }
}
