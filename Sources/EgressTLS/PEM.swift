import COpenSSL

/// Reading certificates and keys in PEM form, from memory or from a file, for
/// ``TLSContext/server(certificateChainPEM:privateKeyPEM:alpn:)`` and its file variant.
///
/// Each function returns owned OpenSSL objects; the caller frees them.
enum PEM {
    /// Every certificate in `pem`, in order (leaf first in a chain file); at least one.
    static func certificates(fromPEM pem: String) throws(TLSError) -> [OpaquePointer] {
        let bio = try memoryBIO(pem)
        defer { BIO_free(bio) }
        return try certificates(from: bio, source: "certificate PEM")
    }

    /// Every certificate in the PEM file at `path`, in order; at least one.
    static func certificates(fromFile path: String) throws(TLSError) -> [OpaquePointer] {
        let bio = try fileBIO(path)
        defer { BIO_free(bio) }
        return try certificates(from: bio, source: path)
    }

    /// The first private key in `pem`.
    static func privateKey(fromPEM pem: String) throws(TLSError) -> OpaquePointer {
        let bio = try memoryBIO(pem)
        defer { BIO_free(bio) }
        return try privateKey(from: bio, source: "private key PEM")
    }

    /// The first private key in the PEM file at `path`.
    static func privateKey(fromFile path: String) throws(TLSError) -> OpaquePointer {
        let bio = try fileBIO(path)
        defer { BIO_free(bio) }
        return try privateKey(from: bio, source: path)
    }

    private static func certificates(from bio: OpaquePointer, source: String) throws(TLSError) -> [OpaquePointer] {
        ERR_clear_error()
        var certificates: [OpaquePointer] = []
        while let certificate = PEM_read_bio_X509(bio, nil, nil, nil) {
            certificates.append(certificate)
        }
        // Reading stops with "no start line" at the end of the input; anything else is a
        // corrupt block, which must not silently shorten the chain.
        let last = ERR_peek_last_error()
        let endOfInput = ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE
        guard endOfInput, !certificates.isEmpty else {
            certificates.forEach { X509_free($0) }
            let reason = endOfInput ? "no certificate found" : TLSError.drainErrorQueue(fallback: "unreadable")
            ERR_clear_error()
            throw TLSError.configuration("cannot read certificates from \(source): \(reason)")
        }
        ERR_clear_error()
        return certificates
    }

    private static func privateKey(from bio: OpaquePointer, source: String) throws(TLSError) -> OpaquePointer {
        ERR_clear_error()
        guard let key = PEM_read_bio_PrivateKey(bio, nil, nil, nil) else {
            let reason = TLSError.drainErrorQueue(fallback: "no private key found")
            throw TLSError.configuration("cannot read private key from \(source): \(reason)")
        }
        return key
    }

    private static func memoryBIO(_ text: String) throws(TLSError) -> OpaquePointer {
        let bytes = Array(text.utf8)
        guard let bio = BIO_new(BIO_s_mem()) else {
            throw TLSError.configuration("cannot allocate a memory BIO")
        }
        let written = bytes.withUnsafeBytes { BIO_write(bio, $0.baseAddress, Int32(clamping: $0.count)) }
        guard bytes.isEmpty || written == Int32(clamping: bytes.count) else {
            BIO_free(bio)
            throw TLSError.configuration("cannot buffer PEM text")
        }
        return bio
    }

    private static func fileBIO(_ path: String) throws(TLSError) -> OpaquePointer {
        ERR_clear_error()
        guard let bio = BIO_new_file(path, "r") else {
            let reason = TLSError.drainErrorQueue(fallback: "cannot open")
            throw TLSError.configuration("cannot read \(path): \(reason)")
        }
        return bio
    }
}
