import COpenSSL
import Foundation

/// Signs leaf certificates for names with a ``CertificateAuthority``.
///
/// Every leaf carries the one shared ECDSA P-256 key of this minter, set from its encoded point
/// (OpenSSL's generic key encoding would cost more than the signature). The extensions all
/// leaves share (basicConstraints, keyUsage, extendedKeyUsage, authorityKeyIdentifier) are
/// encoded once, and signing goes through a prepared ``SigningTemplate``.
public final class LeafMinter: Sendable {
    /// How far back a leaf's notBefore goes, for clients whose clocks run behind.
    public static let backdating: TimeInterval = 3600

    /// The authority that signs the leaves.
    public let authority: CertificateAuthority
    /// The validity of a leaf (capped by the CA's own).
    public let validity: TimeInterval
    /// The key every leaf certifies.
    public let leafKey: PrivateKey

    private let encodedLeafKey: [UInt8]
    private let signer: SigningTemplate
    private let commonExtensions: ExtensionSet

    /// A minter whose leaves are valid for `validity` seconds (a week by default).
    public init(authority: CertificateAuthority, validity: TimeInterval = 7 * 24 * 3600) throws(CertificateError) {
        self.authority = authority
        self.validity = validity
        self.leafKey = try PrivateKey.generateP256()
        self.encodedLeafKey = try leafKey.encodedPublicKey()
        self.signer = try SigningTemplate(key: authority.privateKey)
        // A CA of the user's may lack a subjectKeyIdentifier; then name it by issuer and serial.
        let identifier = authority.certificate.hasSubjectKeyIdentifier ? "keyid:always" : "issuer:always"
        let extensions = ExtensionSet()
        for (nid, value) in [
            (NID_basic_constraints, "critical,CA:FALSE"),
            (NID_key_usage, "critical,digitalSignature"),
            (NID_ext_key_usage, "serverAuth"),
            (NID_authority_key_identifier, identifier),
        ] {
            let ext = try CertificateBuilder.makeExtension(nid, value, issuer: authority.certificate.pointer, subject: nil)
            extensions.pointers.append(ext)
        }
        self.commonExtensions = extensions
    }

    /// Mints a certificate for `name`, valid from an hour before `now` for ``validity``, never
    /// outside the CA's own validity.
    public func mint(_ name: LeafName, now: Date = Date()) throws(CertificateError) -> MintedLeaf {
        let ca = authority.certificate
        let notAfter = min(now.addingTimeInterval(validity), ca.notAfter)
        let builder = try CertificateBuilder(
            encodedP256PublicKey: encodedLeafKey,
            notBefore: max(now.addingTimeInterval(-Self.backdating), ca.notBefore),
            notAfter: notAfter
        )
        try builder.setSubject([(NID_commonName, name.value)])
        try builder.setIssuer(ca)
        for ext in commonExtensions.pointers {
            try builder.addExtension(ext)
        }
        try builder.addSubjectAlternativeName(name)
        // The leaf's key was set from its encoded point, which leaves OpenSSL without the decoded
        // key that a TLS context checks; reading the signed certificate back gives it one.
        let certificate = try Certificate(der: try builder.sign(with: signer).derBytes())
        return MintedLeaf(name: name, certificate: certificate, privateKey: leafKey, chain: [ca], notAfter: notAfter)
    }
}

/// `X509_EXTENSION`s encoded once and freed with their owner; not changed after the minter's init.
private final class ExtensionSet: @unchecked Sendable {
    var pointers: [OpaquePointer] = []

    deinit {
        pointers.forEach { X509_EXTENSION_free($0) }
    }
}
