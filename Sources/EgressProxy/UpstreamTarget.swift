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
        var bytes: [UInt8] = []
        appendDescription(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends ``description``'s UTF-8 bytes (the decision log writes it so, without a `String`).
    func appendDescription(to bytes: inout [UInt8]) {
        bytes.append(contentsOf: (usesTLS ? "https://" : "http://").utf8)
        let bracketed = host.utf8.contains(UInt8(ascii: ":"))
        if bracketed { bytes.append(UInt8(ascii: "[")) }
        bytes.append(contentsOf: host.utf8)
        if bracketed { bytes.append(UInt8(ascii: "]")) }
        bytes.append(UInt8(ascii: ":"))
        bytes.append(contentsOf: String(port).utf8)
        if let serverName, serverName != host {
            bytes.append(contentsOf: " (".utf8)
            bytes.append(contentsOf: serverName.utf8)
            bytes.append(UInt8(ascii: ")"))
        }
    }
}

/// Why an upstream exchange failed.
package struct UpstreamError: Error, CustomStringConvertible {
    package let description: String

    package init(_ description: String) {
        self.description = description
    }
}
