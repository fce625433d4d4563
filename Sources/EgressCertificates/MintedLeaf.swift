import Foundation

/// A leaf certificate minted for one name, with what a TLS server needs to present it.
public final class MintedLeaf: Sendable {
    /// The name it was minted for (its CN and subjectAltName).
    public let name: LeafName
    /// The leaf certificate.
    public let certificate: Certificate
    /// The private key of the leaf: one key shared by every leaf of a minter.
    public let privateKey: PrivateKey
    /// The certificates to send after the leaf: the CA.
    public let chain: [Certificate]
    /// The end of the leaf's validity (the same as `certificate.notAfter`, without decoding it).
    public let notAfter: Date

    init(name: LeafName, certificate: Certificate, privateKey: PrivateKey, chain: [Certificate], notAfter: Date) {
        self.name = name
        self.certificate = certificate
        self.privateKey = privateKey
        self.chain = chain
        self.notAfter = notAfter
    }

    /// The leaf followed by the chain, as PEM, in the order a TLS server sends them.
    public func pemChain() throws(CertificateError) -> String {
        var text = try certificate.pemString()
        for certificate in chain {
            text += try certificate.pemString()
        }
        return text
    }
}
