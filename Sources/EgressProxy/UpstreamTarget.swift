/// Where an upstream request goes: a host (an address, or a name to resolve) and port, over
/// plain TCP or TLS. Connections are pooled per target.
package struct UpstreamTarget: Hashable, Sendable, CustomStringConvertible {
    /// An IP address literal or a DNS name.
    package var host: String
    package var port: Int
    /// Whether to speak TLS (verified against the system trust store and any extra roots).
    package var usesTLS: Bool
    /// The name to send as SNI and to verify the certificate against (TLS only).
    package var serverName: String?

    package init(host: String, port: Int, usesTLS: Bool = false, serverName: String? = nil) {
        self.host = host
        self.port = port
        self.usesTLS = usesTLS
        self.serverName = serverName
    }

    /// `http://host:port` or `https://host:port (name)`.
    package var description: String {
        let shownHost = host.utf8.contains(UInt8(ascii: ":")) ? "[\(host)]" : host
        let name = serverName.map { $0 == host ? "" : " (\($0))" } ?? ""
        return "\(usesTLS ? "https" : "http")://\(shownHost):\(port)\(name)"
    }
}

/// Why an upstream exchange failed.
package struct UpstreamError: Error, CustomStringConvertible {
    package let description: String

    package init(_ description: String) {
        self.description = description
    }
}
