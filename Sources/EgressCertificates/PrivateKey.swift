import COpenSSL

/// A private key held by OpenSSL (`EVP_PKEY`): ECDSA P-256 for keys Egress makes, RSA or EC for
/// a CA the user brings. Immutable once made; OpenSSL keys are safe to use from many threads.
public final class PrivateKey: @unchecked Sendable {
    /// The `EVP_PKEY *` this object owns. Borrow it; do not free it.
    package let pointer: OpaquePointer

    private init(owning pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        EVP_PKEY_free(pointer)
    }

    /// A new ECDSA key on the P-256 curve.
    public static func generateP256() throws(CertificateError) -> PrivateKey {
        guard let key = egress_generate_p256_key() else {
            throw .openSSL("cannot generate a P-256 key")
        }
        return PrivateKey(owning: key)
    }

    /// Parses a PEM private key (PKCS#8, or traditional RSA/EC). Encrypted keys are refused.
    public convenience init(pem: String) throws(CertificateError) {
        let bio = try MemoryBIO(contents: pem)
        // A password callback that supplies nothing makes an encrypted key fail instead of
        // prompting on the terminal.
        let key = PEM_read_bio_PrivateKey(bio.pointer, nil, { _, _, _, _ in 0 }, nil)
        guard let key else {
            throw .openSSL("not a readable PEM private key (encrypted keys are not supported)")
        }
        self.init(owning: key)
    }

    /// The key as unencrypted PKCS#8 PEM, for writing to a file with mode 0600.
    public func pemString() throws(CertificateError) -> String {
        let bio = try MemoryBIO()
        guard PEM_write_bio_PrivateKey(bio.pointer, pointer, nil, nil, 0, nil, nil) == 1 else {
            throw .openSSL("cannot encode the private key")
        }
        return bio.string()
    }

    /// The public key's encoded form: for EC keys the uncompressed point (0x04 || x || y).
    public func encodedPublicKey() throws(CertificateError) -> [UInt8] {
        var encoded: UnsafeMutablePointer<UInt8>?
        let length = EVP_PKEY_get1_encoded_public_key(pointer, &encoded)
        guard let encoded, length > 0 else { throw .openSSL("cannot encode the public key") }
        defer { egress_openssl_free(encoded) }
        return Array(UnsafeBufferPointer(start: encoded, count: length))
    }

    /// The key's algorithm and size, such as "EC 256" or "RSA 2048".
    public var summary: String {
        let type = EVP_PKEY_get_base_id(pointer)
        let name = type == EVP_PKEY_EC ? "EC" : type == EVP_PKEY_RSA ? "RSA" : "type \(type)"
        return "\(name) \(EVP_PKEY_get_bits(pointer))"
    }
}
