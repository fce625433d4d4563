import COpenSSL
import Foundation

/// Signs leaf certificates for names with a ``CertificateAuthority``.
///
/// Every leaf carries the one shared ECDSA P-256 key of this minter; the extensions every leaf
/// has in common (basicConstraints, keyUsage, extendedKeyUsage, authorityKeyIdentifier) are
/// encoded once, so a mint costs a key-less certificate assembly and one signature.
public final class LeafMinter: @unchecked Sendable {
    /// How far back a leaf's notBefore goes, for clients whose clocks run behind.
    public static let backdating: TimeInterval = 3600

    /// The authority that signs the leaves.
    public let authority: CertificateAuthority
    /// The validity of a leaf (capped by the CA's own).
    public let validity: TimeInterval
    /// The key every leaf certifies.
    public let leafKey: PrivateKey

    private let commonExtensions: ExtensionSet

    /// A minter whose leaves are valid for `validity` seconds (a week by default).
    public init(authority: CertificateAuthority, validity: TimeInterval = 7 * 24 * 3600) throws(CertificateError) {
        self.authority = authority
        self.validity = validity
        self.leafKey = try PrivateKey.generateP256()
        let extensions = ExtensionSet()
        let ca = authority.certificate.pointer
        for (nid, value) in [
            (NID_basic_constraints, "critical,CA:FALSE"),
            (NID_key_usage, "critical,digitalSignature"),
            (NID_ext_key_usage, "serverAuth"),
        ] {
            extensions.pointers.append(try CertificateBuilder.makeExtension(nid, value, issuer: ca, subject: nil))
        }
        do {
            extensions.pointers.append(
                try CertificateBuilder.makeExtension(NID_authority_key_identifier, "keyid:always", issuer: ca, subject: nil)
            )
        } catch {
            // A CA of the user's may lack a subjectKeyIdentifier; then name it by issuer and serial.
            ERR_clear_error()
            extensions.pointers.append(
                try CertificateBuilder.makeExtension(NID_authority_key_identifier, "issuer:always", issuer: ca, subject: nil)
            )
        }
        commonExtensions = extensions
    }

    /// Mints a certificate for `name`, valid from an hour before `now` for ``validity``, never
    /// outside the CA's own validity.
    public func mint(_ name: LeafName, now: Date = Date()) throws(CertificateError) -> MintedLeaf {
        let ca = authority.certificate
        let builder = try CertificateBuilder(
            publicKey: leafKey,
            notBefore: max(now.addingTimeInterval(-Self.backdating), ca.notBefore),
            notAfter: min(now.addingTimeInterval(validity), ca.notAfter)
        )
        try builder.setSubject([("CN", name.value)])
        try builder.setIssuer(ca)
        for ext in commonExtensions.pointers {
            try builder.addExtension(ext)
        }
        try builder.addSubjectAlternativeName(name)
        let certificate = try builder.sign(with: authority.privateKey)
        return MintedLeaf(name: name, certificate: certificate, privateKey: leafKey, chain: [ca])
    }
}

/// `X509_EXTENSION`s prepared once and freed with their owner; immutable once the minter is made.
private final class ExtensionSet {
    var pointers: [OpaquePointer] = []

    deinit {
        pointers.forEach { X509_EXTENSION_free($0) }
    }
}
