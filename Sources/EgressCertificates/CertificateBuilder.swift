import COpenSSL
import Foundation

/// Assembles one X.509 v3 certificate: the common steps behind the CA, the leaf template and
/// the leaves. Owns the certificate under construction until ``sign(with:)`` hands it over; one
/// builder makes one certificate.
final class CertificateBuilder {
    private let certificate: OpaquePointer
    private var handedOver = false

    /// A certificate for `publicKey` valid from `notBefore` to `notAfter`, with a random serial.
    ///
    /// Setting a key this way costs OpenSSL 3 hundreds of microseconds (its encoder look-up);
    /// leaves use ``init(encodedP256PublicKey:notBefore:notAfter:)`` instead.
    convenience init(publicKey: PrivateKey, notBefore: Date, notAfter: Date) throws(CertificateError) {
        try self.init(notBefore: notBefore, notAfter: notAfter) { X509_set_pubkey($0, publicKey.pointer) == 1 }
    }

    /// A certificate for a P-256 public key given as its encoded point (see ``PrivateKey/encodedPublicKey()``).
    convenience init(encodedP256PublicKey point: [UInt8], notBefore: Date, notAfter: Date) throws(CertificateError) {
        try self.init(notBefore: notBefore, notAfter: notAfter) { certificate in
            egress_x509_set_encoded_ec_public_key(certificate, NID_X9_62_prime256v1, point, Int32(point.count)) == 1
        }
    }

    private init(
        notBefore: Date, notAfter: Date, setPublicKey: (OpaquePointer) -> Bool
    ) throws(CertificateError) {
        guard let certificate = X509_new() else { throw .openSSL("cannot allocate a certificate") }
        self.certificate = certificate
        guard X509_set_version(certificate, Int(X509_VERSION_3)) == 1, setPublicKey(certificate) else {
            throw .openSSL("cannot set the certificate's version and public key")
        }
        var serial = [UInt8](repeating: 0, count: 16)
        guard RAND_bytes(&serial, Int32(serial.count)) == 1 else { throw .openSSL("no randomness for a serial") }
        serial[0] = serial[0] & 0x7F | 0x40  // positive, and always 16 bytes long
        let number = BN_bin2bn(serial, Int32(serial.count), nil)
        defer { BN_free(number) }
        guard BN_to_ASN1_INTEGER(number, X509_get_serialNumber(certificate)) != nil,
              ASN1_TIME_set(X509_getm_notBefore(certificate), time_t(notBefore.timeIntervalSince1970)) != nil,
              ASN1_TIME_set(X509_getm_notAfter(certificate), time_t(notAfter.timeIntervalSince1970)) != nil
        else { throw .openSSL("cannot set the certificate's serial and validity") }
    }

    deinit {
        if !handedOver { X509_free(certificate) }
    }

    /// Sets the subject to the given attributes, in order (for example `[(NID_commonName, "example.com")]`).
    /// Attributes too long for their type (a CN has at most 64 characters) are left out.
    func setSubject(_ attributes: [(Int32, String)]) throws(CertificateError) {
        guard let name = X509_NAME_new() else { throw .openSSL("cannot allocate a name") }
        defer { X509_NAME_free(name) }
        for (nid, value) in attributes where value.utf8.count <= 64 {
            guard X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8, value, -1, -1, 0) == 1 else {
                throw .openSSL("cannot set the subject attribute \(value)")
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

    /// Adds a prepared `X509_EXTENSION` (copied; the caller keeps it).
    func addExtension(_ ext: OpaquePointer) throws(CertificateError) {
        guard X509_add_ext(certificate, ext, -1) == 1 else { throw .openSSL("cannot add an extension") }
    }

    /// A new `X509_EXTENSION` (the caller frees it) from `openssl x509v3_config` syntax. `issuer`
    /// is the certificate an authorityKeyIdentifier names; `subject` the one whose key a
    /// subjectKeyIdentifier hashes.
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
        let encoded = X509_add1_ext_i2d(certificate, NID_subject_alt_name, UnsafeMutableRawPointer(names), 0, UInt(X509V3_ADD_DEFAULT))
        guard encoded == 1 else { throw .openSSL("cannot add the subjectAltName") }
    }

    /// Signs (SHA-256 with the template's key) and hands over the finished certificate.
    func sign(with signer: SigningTemplate) throws(CertificateError) -> Certificate {
        guard !handedOver else { throw CertificateError("a certificate builder makes one certificate") }
        try signer.sign(certificate)
        handedOver = true
        return Certificate(owning: certificate)
    }
}
