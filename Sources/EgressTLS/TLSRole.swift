import COpenSSL

/// Which side of the handshake a ``TLSHandler`` plays.
public enum TLSRole: Hashable, Sendable {
    /// Accepts a handshake: waits for the peer's ClientHello.
    case server

    /// Starts a handshake. `serverHostname` is sent as SNI (names only, not IP literals) and is
    /// what the server's certificate is checked against when the context verifies: a DNS name,
    /// or an IPv4 or IPv6 literal (brackets allowed), matched against the certificate's
    /// subjectAltName. `nil` sends no SNI and checks the chain but no name. The name is also the
    /// key of the context's client session cache.
    case client(serverHostname: String?)
}

/// The identity a client checks the server against, derived from a server hostname.
enum ServerIdentity: Hashable, Sendable {
    /// A DNS name, lowercased, without a trailing dot: sent as SNI and checked against DNS SANs.
    case dnsName(String)

    /// An IP literal without brackets: never sent as SNI, checked against IP SANs.
    case ipAddress(String)

    /// Classifies `hostname`; `nil` for an empty name.
    init?(hostname: String) {
        var name = Substring(hostname)
        if name.hasPrefix("["), name.hasSuffix("]") {
            name = name.dropFirst().dropLast()
        }
        if Self.isIPLiteral(String(name)) {
            self = .ipAddress(String(name))
            return
        }
        while name.hasSuffix(".") {
            name = name.dropLast()
        }
        guard !name.isEmpty else {
            return nil
        }
        self = .dnsName(name.lowercased())
    }

    /// The name or address as text: the session cache key.
    var text: String {
        switch self {
        case .dnsName(let name), .ipAddress(let name):
            name
        }
    }

    /// Whether OpenSSL parses `text` as an IPv4 or IPv6 address.
    private static func isIPLiteral(_ text: String) -> Bool {
        guard let address = a2i_IPADDRESS(text) else {
            ERR_clear_error()
            return false
        }
        ASN1_OCTET_STRING_free(address)
        return true
    }
}
