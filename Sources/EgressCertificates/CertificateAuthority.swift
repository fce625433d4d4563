import COpenSSL
import Foundation

/// The proxy's certificate authority: a CA certificate and its private key, which sign the leaves
/// that intercepted TLS connections see.
///
/// Egress makes its own (ECDSA P-256, see ``generate(now:)``) or takes the user's (RSA or EC).
/// Either way the pair is checked: the key must match the certificate, the certificate must be a
/// CA and currently valid.
public struct CertificateAuthority: Sendable {
    /// The CA certificate; clients must trust it.
    public let certificate: Certificate
    /// The CA's private key. Never served, never logged.
    public let privateKey: PrivateKey

    /// The subject of CAs that Egress generates.
    static let generatedSubject = [
        (NID_organizationName, "Egress"),
        (NID_organizationalUnitName, "Transparent interception proxy"),
        (NID_commonName, "Egress Interception CA"),
    ]

    /// How long a generated CA is valid.
    public static let generatedValidity: TimeInterval = 10 * 365 * 24 * 3600

    /// Checks and wraps an existing pair.
    public init(certificate: Certificate, privateKey: PrivateKey, now: Date = Date()) throws(CertificateError) {
        guard certificate.matches(privateKey) else {
            throw CertificateError("the CA private key does not match the CA certificate (\(certificate.subject))")
        }
        guard certificate.isCertificateAuthority else {
            throw CertificateError(
                "the certificate \(certificate.subject) is not a CA (it needs basicConstraints CA:TRUE)"
            )
        }
        guard certificate.notBefore <= now, now < certificate.notAfter else {
            throw CertificateError(
                "the CA certificate \(certificate.subject) is not valid now "
                    + "(valid from \(certificate.notBefore) to \(certificate.notAfter))"
            )
        }
        self.certificate = certificate
        self.privateKey = privateKey
    }

    /// A new self-signed ECDSA P-256 CA, backdated an hour for clients whose clocks run behind.
    public static func generate(now: Date = Date()) throws(CertificateError) -> CertificateAuthority {
        let key = try PrivateKey.generateP256()
        let builder = try CertificateBuilder(
            publicKey: key,
            notBefore: now.addingTimeInterval(-3600),
            notAfter: now.addingTimeInterval(generatedValidity)
        )
        try builder.setSubject(generatedSubject)
        try builder.setIssuer(nil)
        try builder.addExtension(NID_basic_constraints, "critical,CA:TRUE")
        try builder.addExtension(NID_key_usage, "critical,keyCertSign,cRLSign")
        try builder.addExtension(NID_subject_key_identifier, "hash")
        try builder.addExtension(NID_authority_key_identifier, "keyid:always")
        let certificate = try builder.sign(with: SigningTemplate(key: key))
        return try CertificateAuthority(certificate: certificate, privateKey: key, now: now)
    }
}
