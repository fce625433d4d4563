import COpenSSL

/// What a completed handshake negotiated; read it from ``TLSHandler/handshakeResult`` once the
/// handler has fired `TLSUserEvent.handshakeCompleted`.
public struct TLSHandshakeResult: Hashable, Sendable {
    /// The protocol agreed through ALPN, e.g. `"http/1.1"`; `nil` when none was.
    public var negotiatedProtocol: String?

    /// The SNI host name: the one the client sent (server role) or the one sent (client role);
    /// `nil` when there was none.
    public var serverName: String?

    /// Whether the peer presented a certificate and it verified: chain, validity and, for a
    /// client with a server hostname, the name. Always `false` for a server, which does not ask
    /// clients for certificates.
    public var peerCertificateVerified: Bool

    /// Whether the connection resumed an earlier session instead of a full handshake.
    public var sessionReused: Bool

    /// The protocol version, e.g. `"TLSv1.3"`.
    public var protocolVersion: String

    /// The cipher suite's OpenSSL name, e.g. `"TLS_AES_128_GCM_SHA256"`.
    public var cipherSuite: String
}

extension TLSHandshakeResult {
    /// Reads the negotiated parameters of `ssl`, an `SSL*` whose handshake has completed.
    init(ssl: OpaquePointer) {
        var selected: UnsafePointer<UInt8>?
        var selectedLength: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &selected, &selectedLength)
        if let selected {
            negotiatedProtocol = ALPNProtocols.decodeSelected(UnsafeRawBufferPointer(start: selected, count: Int(selectedLength)))
        } else {
            negotiatedProtocol = nil
        }
        serverName = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name).map { String(cString: $0) }
        peerCertificateVerified = SSL_get0_peer_certificate(ssl) != nil && SSL_get_verify_result(ssl) == X509_V_OK
        sessionReused = SSL_session_reused(ssl) == 1
        protocolVersion = SSL_get_version(ssl).map { String(cString: $0) } ?? "unknown"
        cipherSuite = SSL_get_current_cipher(ssl).flatMap { SSL_CIPHER_get_name($0) }.map { String(cString: $0) } ?? "unknown"
    }
}
