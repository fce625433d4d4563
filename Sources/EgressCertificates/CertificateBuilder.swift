import COpenSSL
import Foundation

/// Assembles one X.509 v3 certificate and signs it: the common steps behind the CA and the leaves.
///
/// Owns the certificate under construction until ``sign(with:)`` hands it over; one builder
/// makes one certificate.
final class CertificateBuilder {
    private let certificate: OpaquePointer
    private var signed = false

    /// A certificate for `publicKey` valid from `notBefore` to `notAfter`, with a random 127-bit serial.
    init(publicKey: PrivateKey, notBefore: Date, notAfter: Date) throws(CertificateError) {
        guard let certificate = X509_new() else { throw .openSSL("cannot allocate a certificate") }
        self.certificate = certificate
        var serial = [UInt8](repeating: 0, count: 16)
        guard RAND_bytes(&serial, Int32(serial.count)) == 1 else { throw .openSSL("no randomness for a serial") }
        serial[0] &= 0x7F  // positive
        serial[0] |= 0x40  // and never shorter than 16 bytes
        let number = BN_bin2bn(serial, Int32(serial.count), nil)
        defer { BN_free(number) }
        guard X509_set_version(certificate, Int(X509_VERSION_3)) == 1,
              BN_to_ASN1_INTEGER(number, X509_get_serialNumber(certificate)) != nil,
              ASN1_TIME_set(X509_getm_notBefore(certificate), time_t(notBefore.timeIntervalSince1970)) != nil,
              ASN1_TIME_set(X509_getm_notAfter(certificate), time_t(notAfter.timeIntervalSince1970)) != nil,
              X509_set_pubkey(certificate, publicKey.pointer) == 1
        else { throw .openSSL("cannot set the certificate's basic fields") }
    }

    deinit {
        if !signed { X509_free(certificate) }
    }

    /// Sets the subject to the given attributes, in order (for example `[("CN", "example.com")]`).
    /// Attributes too long for their type (a CN has at most 64 characters) are left out.
    func setSubject(_ attributes: [(String, String)]) throws(CertificateError) {
        guard let name = X509_NAME_new() else { throw .openSSL("cannot allocate a name") }
        defer { X509_NAME_free(name) }
        for (field, value) in attributes where value.utf8.count <= 64 {
            guard X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, value, -1, -1, 0) == 1 else {
                throw .openSSL("cannot set subject \(field)=\(value)")
            }
        }
        guard X509_set_subject_name(certificate, name) == 1 else { throw .openSSL("cannot set the subject") }
    }

    /// Sets the issuer name: the issuing CA's subject, or for a self-signed certificate its own.
    func setIssuer(_ issuer: Certificate?) throws(CertificateError) {
        let name = X509_get_subject_name(issuer?.pointer ?? certificate)
        guard X509_set_issuer_name(certificate, name) == 1 else { throw .openSSL("cannot set the issuer") }
    }

    /// Adds an extension written in `openssl x509v3_config` syntax, such as
    /// `(NID_basic_constraints, "critical,CA:TRUE")`, for a self-signed certificate.
    func addExtension(_ nid: Int32, _ value: String) throws(CertificateError) {
        let ext = try Self.makeExtension(nid, value, issuer: certificate, subject: certificate)
        defer { X509_EXTENSION_free(ext) }
        try addExtension(ext)
    }

    /// An `X509_EXTENSION` (owned by the caller) from `openssl x509v3_config` syntax. `issuer` is
    /// the certificate whose key identifier an authorityKeyIdentifier names; `subject` the one
    /// whose public key a subjectKeyIdentifier hashes.
    static func makeExtension(
        _ nid: Int32, _ value: String, issuer: OpaquePointer, subject: OpaquePointer?
    ) throws(CertificateError) -> OpaquePointer {
        var context = X509V3_CTX()
        X509V3_set_ctx(&context, issuer, subject, nil, nil, 0)
        guard let ext = X509V3_EXT_conf_nid(nil, &context, nid, value) else {
            throw .openSSL("cannot make the \(String(cString: OBJ_nid2sn(nid))) extension \"\(value)\"")
        }
        return ext
    }

    /// Adds a prepared extension (copied; the caller keeps ownership of `ext`).
    func addExtension(_ ext: OpaquePointer) throws(CertificateError) {
        guard X509_add_ext(certificate, ext, -1) == 1 else { throw .openSSL("cannot add an extension") }
    }

    /// Adds a subjectAltName holding one DNS name or one IP address.
    func addSubjectAlternativeName(_ name: LeafName) throws(CertificateError) {
        guard let names = egress_general_names_new() else { throw .openSSL("cannot allocate names") }
        defer { egress_general_names_free(names) }
        let type = name.isIPAddress ? GEN_IPADD : GEN_DNS
        guard let entry = a2i_GENERAL_NAME(nil, nil, nil, type, name.value, 0) else {
            throw .openSSL("cannot encode the subjectAltName \(name.value)")
        }
        guard egress_general_names_push(names, entry) > 0 else {
            GENERAL_NAME_free(entry)
            throw .openSSL("cannot encode the subjectAltName \(name.value)")
        }
        guard X509_add1_ext_i2d(certificate, NID_subject_alt_name, UnsafeMutableRawPointer(names), 0, UInt(X509V3_ADD_DEFAULT)) == 1 else {
            throw .openSSL("cannot add the subjectAltName")
        }
    }

    /// Signs with `key` (SHA-256) and hands over the finished certificate.
    func sign(with key: PrivateKey) throws(CertificateError) -> Certificate {
        guard !signed, X509_sign(certificate, key.pointer, EVP_sha256()) > 0 else {
            throw .openSSL("cannot sign the certificate")
        }
        signed = true
        return Certificate(owning: certificate)
    }
}
