import COpenSSL

/// A signing context set up once for a key (ECDSA or RSA with SHA-256) and copied for each
/// signature, so a mint skips OpenSSL's per-call algorithm fetch and key set-up.
final class SigningTemplate: @unchecked Sendable {
    // An `EVP_MD_CTX` after EVP_DigestSignInit; never used directly, only copied (a const read).
    private let template: OpaquePointer

    init(key: PrivateKey) throws(CertificateError) {
        guard let context = EVP_MD_CTX_new() else { throw .openSSL("cannot allocate a digest context") }
        guard EVP_DigestSignInit_ex(context, nil, "SHA2-256", nil, nil, key.pointer, nil) == 1 else {
            EVP_MD_CTX_free(context)
            throw .openSSL("cannot prepare SHA-256 signing with the CA key")
        }
        template = context
    }

    deinit {
        EVP_MD_CTX_free(template)
    }

    /// Signs `certificate` (an `X509 *`) in place.
    func sign(_ certificate: OpaquePointer) throws(CertificateError) {
        guard let context = EVP_MD_CTX_new() else { throw .openSSL("cannot allocate a digest context") }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_MD_CTX_copy_ex(context, template) == 1, X509_sign_ctx(certificate, context) > 0 else {
            throw .openSSL("cannot sign the certificate")
        }
    }
}
