import COpenSSL
import NIOCore

/// One TLS connection: an OpenSSL `SSL` with a memory BIO on each side of the network.
///
/// Ciphertext from the network goes in with ``receive(_:)``; ciphertext for the network comes
/// out with ``drainOutput(into:)``. In between, ``handshake()``, ``read(into:)``,
/// ``write(_:output:)`` and ``shutdown()`` run OpenSSL without any I/O, so this type knows nothing of
/// channels; ``TLSHandler`` moves the bytes. Not thread-safe: one event loop at a time.
final class TLSConnection {
    /// The outcome of one step of the handshake, a read or a write.
    enum Step: Equatable {
        /// The step finished (`read`: some plaintext was appended).
        case done
        /// OpenSSL needs more ciphertext from the network before it can go on.
        case wantsMoreData
        /// The peer sent close_notify (reads only).
        case closeNotify
        /// A fatal error; any alert for the peer is waiting in the output.
        case failed(TLSError)
    }

    /// The context this connection came from; kept alive as long as OpenSSL may call back into it.
    let context: TLSContext

    /// The server hostname a client role keys cached sessions by.
    let sessionCacheKey: String?

    private let ssl: OpaquePointer
    private var networkInput: OpaquePointer
    private var networkOutput: OpaquePointer
    private let isClient: Bool

    /// The plaintext one ``read(into:)`` produces at most: one TLS record.
    static let recordSize = 16 * 1024

    /// The most bytes a record adds to its plaintext: header, nonce, tag, padding.
    static let recordOverhead = 64

    /// A generous estimate of the ciphertext that `plaintext` bytes encrypt to.
    static func ciphertextSize(forPlaintext plaintext: Int) -> Int {
        plaintext + (plaintext / recordSize + 1) * recordOverhead
    }

    /// A memory BIO that has grown past this and is empty is replaced by a fresh one.
    static let idleBufferLimit = 32 * 1024

    /// The `SSL` ex-data slot that points back at the connection, for OpenSSL callbacks.
    private static let exDataIndex = egress_ssl_get_ex_new_index()

    init(context: TLSContext, role: TLSRole) throws(TLSError) {
        ERR_clear_error()
        guard let ssl = SSL_new(context.sslContext) else {
            throw TLSError.configuration("cannot create an SSL: \(TLSError.drainErrorQueue(fallback: "out of memory"))")
        }
        let input = BIO_new(BIO_s_mem())
        let output = BIO_new(BIO_s_mem())
        guard let input, let output else {
            // BIO_free(NULL) is a no-op, so whichever BIO was made is freed.
            BIO_free(input)
            BIO_free(output)
            SSL_free(ssl)
            throw TLSError.configuration("cannot create memory BIOs")
        }
        SSL_set_bio(ssl, input, output)
        self.context = context
        self.ssl = ssl
        self.networkInput = input
        self.networkOutput = output

        switch role {
        case .server:
            isClient = false
            sessionCacheKey = nil
            SSL_set_accept_state(ssl)
        case .client(let hostname):
            isClient = true
            let identity = hostname.flatMap(ServerIdentity.init(hostname:))
            sessionCacheKey = identity?.text
            SSL_set_connect_state(ssl)
            if let identity {
                try Self.configureClient(ssl, for: identity)
                context.clientSessions?.offer(to: ssl, for: identity.text)
            }
        }
        guard SSL_set_ex_data(ssl, Self.exDataIndex, Unmanaged.passUnretained(self).toOpaque()) == 1 else {
            throw TLSError.configuration("cannot attach the connection to its SSL")
        }
    }

    deinit {
        // Frees both BIOs too, which SSL_set_bio handed over.
        SSL_free(ssl)
    }

    /// The connection an OpenSSL callback is running for.
    static func from(_ ssl: OpaquePointer) -> TLSConnection? {
        SSL_get_ex_data(ssl, exDataIndex).map { Unmanaged<TLSConnection>.fromOpaque($0).takeUnretainedValue() }
    }

    private static func configureClient(_ ssl: OpaquePointer, for identity: ServerIdentity) throws(TLSError) {
        switch identity {
        case .dnsName(let name):
            SSL_set_hostflags(ssl, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
            guard egress_ssl_set_tlsext_host_name(ssl, name) == 1, SSL_set1_host(ssl, name) == 1 else {
                throw TLSError.configuration("invalid server name \"\(name)\": \(TLSError.drainErrorQueue(fallback: "rejected"))")
            }
        case .ipAddress(let address):
            guard X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), address) == 1 else {
                throw TLSError.configuration("invalid server address \"\(address)\": \(TLSError.drainErrorQueue(fallback: "rejected"))")
            }
        }
    }

    // MARK: ciphertext

    /// Hands ciphertext from the network to OpenSSL; consumes all of `buffer`.
    func receive(_ buffer: inout ByteBuffer) -> Bool {
        while buffer.readableBytes > 0 {
            let written = buffer.withUnsafeReadableBytes { bytes in
                BIO_write(networkInput, bytes.baseAddress, Int32(clamping: bytes.count))
            }
            guard written > 0 else {
                return false
            }
            buffer.moveReaderIndex(forwardBy: Int(written))
        }
        return true
    }

    /// Whether received ciphertext, or plaintext already decrypted from it, is waiting to be read.
    var hasBufferedInput: Bool {
        SSL_has_pending(ssl) == 1 || egress_bio_pending(networkInput) > 0
    }

    /// How much room the next ``read(into:)`` needs at most: no more than the ciphertext and
    /// decrypted bytes waiting (plaintext is never longer than its ciphertext), at least a
    /// little, at most a record. A small request then costs a small buffer, not a record's.
    var plaintextBound: Int {
        let waiting = Int(egress_bio_pending(networkInput)) + Int(SSL_pending(ssl))
        return min(max(waiting, Self.minimumReadSize), Self.recordSize)
    }

    /// The smallest buffer a read is given.
    private static let minimumReadSize = 2048

    /// Whether OpenSSL has produced ciphertext for the network.
    var hasOutput: Bool {
        egress_bio_pending(networkOutput) > 0
    }

    /// Appends all ciphertext waiting for the network to `buffer`.
    func drainOutput(into buffer: inout ByteBuffer) {
        while case let pending = Int(egress_bio_pending(networkOutput)), pending > 0 {
            let read = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: pending) { space in
                Int(max(0, BIO_read(networkOutput, space.baseAddress, Int32(clamping: space.count))))
            }
            guard read > 0 else {
                return
            }
        }
    }

    /// Replaces a memory BIO that has grown large with a fresh one once it is empty, so an idle
    /// connection does not keep the buffers of its biggest burst (OpenSSL's own buffers are
    /// released by `SSL_MODE_RELEASE_BUFFERS`).
    func releaseIdleBuffers() {
        if egress_bio_pending(networkInput) == 0, egress_bio_mem_capacity(networkInput) > Self.idleBufferLimit,
            let fresh = BIO_new(BIO_s_mem())
        {
            SSL_set0_rbio(ssl, fresh)
            networkInput = fresh
        }
        if egress_bio_pending(networkOutput) == 0, egress_bio_mem_capacity(networkOutput) > Self.idleBufferLimit,
            let fresh = BIO_new(BIO_s_mem())
        {
            SSL_set0_wbio(ssl, fresh)
            networkOutput = fresh
        }
    }

    /// The capacity of both memory BIOs together, in bytes.
    var bufferCapacity: Int {
        Int(egress_bio_mem_capacity(networkInput) + egress_bio_mem_capacity(networkOutput))
    }

    // MARK: TLS operations

    /// Advances the handshake as far as the ciphertext received so far allows.
    func handshake() -> Step {
        ERR_clear_error()
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            return .done
        }
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return .wantsMoreData
        case SSL_ERROR_ZERO_RETURN:
            ERR_clear_error()
            return .failed(.handshakeFailed("the peer sent close_notify during the handshake"))
        case let code:
            return .failed(.handshakeFailed(handshakeFailureReason(code)))
        }
    }

    /// What went wrong in a handshake: OpenSSL's error queue, plus for a client whose
    /// verification failed, why the certificate was rejected.
    private func handshakeFailureReason(_ code: Int32) -> String {
        var reason = TLSError.drainErrorQueue(fallback: "SSL_do_handshake failed (SSL_get_error \(code))")
        let verifyResult = SSL_get_verify_result(ssl)
        if isClient, verifyResult != X509_V_OK, let text = X509_verify_cert_error_string(verifyResult) {
            reason += " (\(String(cString: text)))"
        }
        return reason
    }

    /// The parameters the completed handshake negotiated.
    var handshakeResult: TLSHandshakeResult {
        TLSHandshakeResult(ssl: ssl)
    }

    /// Decrypts at most one record of plaintext and appends it to `buffer`.
    func read(into buffer: inout ByteBuffer) -> Step {
        ERR_clear_error()
        var result: Int32 = 0
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: plaintextBound) { space in
            var count = 0
            result = SSL_read_ex(ssl, space.baseAddress, min(space.count, Self.recordSize), &count)
            return result == 1 ? count : 0
        }
        if result == 1 {
            return .done
        }
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return .wantsMoreData
        case SSL_ERROR_ZERO_RETURN:
            return .closeNotify
        case let code:
            return .failed(.connectionFailed(TLSError.drainErrorQueue(fallback: "SSL_read failed (SSL_get_error \(code))")))
        }
    }

    /// Encrypts `bytes`, one record at a time, appending the ciphertext to `output` (so the
    /// output BIO never holds more than a record). Returns how many bytes were taken: all of
    /// them unless the step is not `.done`. After `.wantsMoreData`, retry with the rest once
    /// more ciphertext has been received.
    func write(_ bytes: UnsafeRawBufferPointer, output: inout ByteBuffer) -> (written: Int, step: Step) {
        var offset = 0
        while offset < bytes.count {
            ERR_clear_error()
            var written = 0
            let chunk = min(bytes.count - offset, Self.recordSize)
            let result = SSL_write_ex(ssl, bytes.baseAddress.map { $0 + offset }, chunk, &written)
            drainOutput(into: &output)
            if result == 1 {
                offset += written
                continue
            }
            switch SSL_get_error(ssl, result) {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                return (offset, .wantsMoreData)
            case let code:
                let reason = TLSError.drainErrorQueue(fallback: "SSL_write failed (SSL_get_error \(code))")
                return (offset, .failed(.connectionFailed(reason)))
            }
        }
        return (offset, .done)
    }

    /// Whether the peer's close_notify has been read.
    var receivedCloseNotify: Bool {
        SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN != 0
    }

    /// Queues close_notify in the output (once; later calls do nothing). Errors, such as a
    /// shutdown before the handshake finished, are dropped: the connection closes either way.
    func shutdown() {
        ERR_clear_error()
        if SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN == 0, SSL_is_init_finished(ssl) == 1 {
            _ = SSL_shutdown(ssl)
        }
        ERR_clear_error()
    }
}
