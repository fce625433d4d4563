import COpenSSL
import Foundation

/// An X.509 certificate held by OpenSSL (`X509`). Immutable once made; shared across threads.
public final class Certificate: @unchecked Sendable {
    /// The `X509 *` this object owns. Borrow it (or up-ref it); do not free it.
    package let pointer: OpaquePointer

    /// Takes ownership of `pointer`.
    package init(owning pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit {
        X509_free(pointer)
    }

    /// Parses the first certificate of a PEM text.
    public convenience init(pem: String) throws(CertificateError) {
        let bio = try MemoryBIO(contents: pem)
        guard let certificate = PEM_read_bio_X509(bio.pointer, nil, nil, nil) else {
            throw .openSSL("not a readable PEM certificate")
        }
        self.init(owning: certificate)
    }

    /// Parses a DER-encoded certificate.
    public convenience init(der: [UInt8]) throws(CertificateError) {
        let parsed = der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            var cursor = buffer.baseAddress
            return d2i_X509(nil, &cursor, buffer.count)
        }
        guard let parsed else { throw .openSSL("not a readable DER certificate") }
        self.init(owning: parsed)
    }

    /// The certificate as PEM text.
    public func pemString() throws(CertificateError) -> String {
        let bio = try MemoryBIO()
        guard PEM_write_bio_X509(bio.pointer, pointer) == 1 else {
            throw .openSSL("cannot encode the certificate")
        }
        return bio.string()
    }

    /// The certificate's DER encoding.
    public func derBytes() throws(CertificateError) -> [UInt8] {
        let length = i2d_X509(pointer, nil)
        guard length > 0 else { throw .openSSL("cannot encode the certificate") }
        var bytes = [UInt8](repeating: 0, count: Int(length))
        let written = bytes.withUnsafeMutableBufferPointer { buffer -> Int32 in
            var cursor = buffer.baseAddress
            return i2d_X509(pointer, &cursor)
        }
        guard written == length else { throw .openSSL("cannot encode the certificate") }
        return bytes
    }

    /// The subject in OpenSSL's one-line RFC 2253 form, such as `CN=Egress Interception CA,O=Egress`.
    public var subject: String {
        Self.render(X509_get_subject_name(pointer))
    }

    /// The issuer, in the same form as ``subject``.
    public var issuer: String {
        Self.render(X509_get_issuer_name(pointer))
    }

    /// The start of the validity period.
    public var notBefore: Date {
        Self.date(X509_get0_notBefore(pointer))
    }

    /// The end of the validity period.
    public var notAfter: Date {
        Self.date(X509_get0_notAfter(pointer))
    }

    /// The SHA-256 fingerprint as colon-separated upper-case hex, as `openssl x509 -fingerprint` prints it.
    public var sha256Fingerprint: String {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard X509_digest(pointer, EVP_sha256(), &digest, &length) == 1 else { return "" }
        return digest.prefix(Int(length)).map { byte in
            let hex = String(byte, radix: 16, uppercase: true)
            return byte < 16 ? "0" + hex : hex
        }.joined(separator: ":")
    }

    /// Whether `key` is the private half of this certificate's public key.
    public func matches(_ key: PrivateKey) -> Bool {
        let matches = X509_check_private_key(pointer, key.pointer) == 1
        ERR_clear_error()
        return matches
    }

    /// Whether basicConstraints marks this certificate as a CA that may sign certificates.
    public var isCertificateAuthority: Bool {
        X509_check_ca(pointer) >= 1
    }

    /// Whether the certificate names its own key with a subjectKeyIdentifier extension.
    public var hasSubjectKeyIdentifier: Bool {
        X509_get0_subject_key_id(pointer) != nil
    }

    private static func render(_ name: OpaquePointer?) -> String {
        guard let name, let bio = try? MemoryBIO() else { return "" }
        X509_NAME_print_ex(bio.pointer, name, 0, egress_name_flags_rfc2253())
        return bio.string()
    }

    private static func date(_ time: UnsafePointer<ASN1_TIME>?) -> Date {
        var parts = tm()
        guard let time, ASN1_TIME_to_tm(time, &parts) == 1 else { return .distantPast }
        return Date(timeIntervalSince1970: TimeInterval(timegm(&parts)))
    }
}
