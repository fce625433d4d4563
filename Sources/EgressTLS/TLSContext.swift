import COpenSSL

/// The configuration shared by many TLS connections: an OpenSSL `SSL_CTX` set up for one role.
///
/// Make one per certificate (server) or per trust configuration (client) and share it between
/// connections and event loops; each ``TLSHandler`` makes its own `SSL` from it.
///
/// `@unchecked Sendable`: the `SSL_CTX` is only configured inside the factories, before the
/// context is returned, and never changed afterwards; OpenSSL reference-counts it and locks its
/// internal session cache itself. The only mutable Swift state, the client session cache, is
/// behind a mutex.
public final class TLSContext: @unchecked Sendable {
    /// The `SSL_CTX*`, owned.
    let sslContext: OpaquePointer

    /// The protocols offered (client) or accepted (server) through ALPN, most preferred first.
    let alpn: ALPNProtocols

    /// Sessions for resumption, keyed by server hostname; `nil` for server contexts.
    let clientSessions: ClientSessionCache?

    /// The most sessions a context keeps: the server's cache, or the client's per-host table.
    static let sessionCacheCapacity = 1024

    private init(sslContext: OpaquePointer, alpn: ALPNProtocols, clientSessions: ClientSessionCache?) {
        self.sslContext = sslContext
        self.alpn = alpn
        self.clientSessions = clientSessions
    }

    deinit {
        SSL_CTX_free(sslContext)
    }

    /// A server context presenting `certificate` (an `X509*`) followed by `chain` (extra
    /// `X509*`s, e.g. the issuing CA), signed with `privateKey` (an `EVP_PKEY*`).
    ///
    /// The pointers are borrowed: the context takes its own references, the caller still frees
    /// its own. TLS 1.2 and 1.3; ALPN picks the first protocol of `alpn` that the client offers
    /// and negotiates none when the client offers none or none matches (so the connection
    /// proceeds, and the application sees `negotiatedProtocol == nil`); sessions resume through
    /// the server session cache and TLS 1.3 tickets.
    ///
    /// - Throws: ``TLSError/configuration(_:)`` if the key does not match the certificate, an
    ///   ALPN name is empty or longer than 255 bytes, or OpenSSL fails.
    public static func server(
        certificate: OpaquePointer,
        chain: [OpaquePointer] = [],
        privateKey: OpaquePointer,
        alpn: [String] = ["http/1.1"]
    ) throws(TLSError) -> TLSContext {
        let protocols = try ALPNProtocols(alpn)
        let context = try TLSContext(sslContext: makeSSLContext(TLS_server_method()), alpn: protocols, clientSessions: nil)
        let ctx = context.sslContext
        guard SSL_CTX_use_certificate(ctx, certificate) == 1 else {
            throw configurationError("cannot use the certificate")
        }
        for certificate in chain {
            guard egress_ssl_ctx_add1_chain_cert(ctx, certificate) == 1 else {
                throw configurationError("cannot add a chain certificate")
            }
        }
        guard SSL_CTX_use_PrivateKey(ctx, privateKey) == 1, SSL_CTX_check_private_key(ctx) == 1 else {
            throw configurationError("the private key does not match the certificate")
        }

        let sessionIDContext = Array("egress".utf8)
        guard SSL_CTX_set_session_id_context(ctx, sessionIDContext, UInt32(sessionIDContext.count)) == 1 else {
            throw configurationError("cannot set the session id context")
        }
        _ = egress_ssl_ctx_set_session_cache_mode(ctx, Int(SSL_SESS_CACHE_SERVER))
        _ = egress_ssl_ctx_sess_set_cache_size(ctx, sessionCacheCapacity)

        if !protocols.names.isEmpty {
            SSL_CTX_set_alpn_select_cb(ctx, selectALPN, Unmanaged.passUnretained(context).toOpaque())
        }
        return context
    }

    /// A server context from PEM text: `certificateChainPEM` holds the leaf first, then any
    /// intermediates; `privateKeyPEM` holds its key (unencrypted). See
    /// ``server(certificate:chain:privateKey:alpn:)`` for the behavior.
    public static func server(
        certificateChainPEM: String,
        privateKeyPEM: String,
        alpn: [String] = ["http/1.1"]
    ) throws(TLSError) -> TLSContext {
        let certificates = try PEM.certificates(fromPEM: certificateChainPEM)
        defer { certificates.forEach { X509_free($0) } }
        let key = try PEM.privateKey(fromPEM: privateKeyPEM)
        defer { EVP_PKEY_free(key) }
        return try server(certificate: certificates[0], chain: Array(certificates.dropFirst()), privateKey: key, alpn: alpn)
    }

    /// A server context from PEM files: the chain file holds the leaf first, then any
    /// intermediates; the key file holds its key (unencrypted). See
    /// ``server(certificate:chain:privateKey:alpn:)`` for the behavior.
    public static func server(
        certificateChainPEMFile: String,
        privateKeyPEMFile: String,
        alpn: [String] = ["http/1.1"]
    ) throws(TLSError) -> TLSContext {
        let certificates = try PEM.certificates(fromFile: certificateChainPEMFile)
        defer { certificates.forEach { X509_free($0) } }
        let key = try PEM.privateKey(fromFile: privateKeyPEMFile)
        defer { EVP_PKEY_free(key) }
        return try server(certificate: certificates[0], chain: Array(certificates.dropFirst()), privateKey: key, alpn: alpn)
    }

    /// A client context that offers `alpn` and, when `verify` is true, requires the server's
    /// chain to lead to the system trust store or to a certificate in `extraRootsPEMFile`.
    ///
    /// The name check is per connection: ``TLSRole/client(serverHostname:)``. With `verify`
    /// false the handshake succeeds whatever the certificate, and
    /// ``TLSHandshakeResult/peerCertificateVerified`` tells what verification would have said.
    /// Sessions are cached per server hostname and offered on the next connection to it.
    ///
    /// - Throws: ``TLSError/configuration(_:)`` if the roots file cannot be read, an ALPN name is
    ///   empty or longer than 255 bytes, or OpenSSL fails.
    public static func client(
        extraRootsPEMFile: String? = nil,
        alpn: [String] = ["http/1.1"],
        verify: Bool = true
    ) throws(TLSError) -> TLSContext {
        let protocols = try ALPNProtocols(alpn)
        let sessions = ClientSessionCache(capacity: sessionCacheCapacity)
        let context = try TLSContext(sslContext: makeSSLContext(TLS_client_method()), alpn: protocols, clientSessions: sessions)
        let ctx = context.sslContext
        guard SSL_CTX_set_default_verify_paths(ctx) == 1 else {
            throw configurationError("cannot load the system trust store")
        }
        if let extraRootsPEMFile {
            guard SSL_CTX_load_verify_locations(ctx, extraRootsPEMFile, nil) == 1 else {
                throw configurationError("cannot load trusted roots from \(extraRootsPEMFile)")
            }
        }
        SSL_CTX_set_verify(ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nil)
        if !protocols.wireFormat.isEmpty {
            // Inverted convention: 0 is success.
            let failed = protocols.wireFormat.withUnsafeBufferPointer { wire in
                SSL_CTX_set_alpn_protos(ctx, wire.baseAddress, UInt32(wire.count))
            }
            guard failed == 0 else {
                throw configurationError("cannot set the ALPN protocols")
            }
        }
        _ = egress_ssl_ctx_set_session_cache_mode(ctx, Int(SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE))
        SSL_CTX_sess_set_new_cb(ctx, storeClientSession)
        return context
    }

    /// A new `SSL_CTX` with the settings every Egress context shares: TLS 1.2 or later, no
    /// renegotiation or compression, buffers released while a connection is idle.
    private static func makeSSLContext(_ method: OpaquePointer?) throws(TLSError) -> OpaquePointer {
        ERR_clear_error()
        guard let method, let ctx = SSL_CTX_new(method) else {
            throw configurationError("cannot create an SSL_CTX")
        }
        guard egress_ssl_ctx_set_min_proto_version(ctx, TLS1_2_VERSION) == 1 else {
            SSL_CTX_free(ctx)
            throw configurationError("cannot require TLS 1.2")
        }
        egress_ssl_ctx_set_default_options(ctx)
        _ = egress_ssl_ctx_set_mode(ctx, Int(SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER))
        return ctx
    }

    /// A configuration error with `what` and OpenSSL's reason.
    private static func configurationError(_ what: String) -> TLSError {
        .configuration("\(what): \(TLSError.drainErrorQueue(fallback: "no detail from OpenSSL"))")
    }
}

/// The server's ALPN choice: the first of the context's protocols that the client offered;
/// `SSL_TLSEXT_ERR_NOACK` (no ALPN, handshake continues) when none matches.
private func selectALPN(
    _ ssl: OpaquePointer?,
    _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
    _ outLength: UnsafeMutablePointer<UInt8>?,
    _ offered: UnsafePointer<UInt8>?,
    _ offeredLength: UInt32,
    _ argument: UnsafeMutableRawPointer?
) -> Int32 {
    guard let out, let outLength, let offered, let argument else {
        return SSL_TLSEXT_ERR_NOACK
    }
    let context = Unmanaged<TLSContext>.fromOpaque(argument).takeUnretainedValue()
    let offeredBytes = UnsafeRawBufferPointer(start: offered, count: Int(offeredLength))
    guard let match = context.alpn.select(fromOffered: offeredBytes) else {
        return SSL_TLSEXT_ERR_NOACK
    }
    out.pointee = offered + match.lowerBound
    outLength.pointee = UInt8(match.count)
    return SSL_TLSEXT_ERR_OK
}

/// OpenSSL's new-session callback for client contexts: keeps a copy of the session under the
/// connection's server hostname. Returns 0: OpenSSL keeps its reference.
private func storeClientSession(_ ssl: OpaquePointer?, _ session: OpaquePointer?) -> Int32 {
    guard let ssl, let session, let connection = TLSConnection.from(ssl), let key = connection.sessionCacheKey,
        let cache = connection.context.clientSessions
    else {
        return 0
    }
    cache.store(session, for: key)
    return 0
}
