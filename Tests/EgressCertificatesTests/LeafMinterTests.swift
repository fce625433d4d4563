import COpenSSL
import EgressCertificates
import EgressTesting
import Foundation
import Testing

@Suite struct LeafMinterTests {
    let directory: TemporaryDirectory
    let store: CertificateAuthorityStore
    let minter: LeafMinter

    init() throws {
        directory = try TemporaryDirectory()
        store = CertificateAuthorityStore(stateDirectory: directory.url.appendingPathComponent("state"))
        minter = try LeafMinter(authority: try store.loadOrCreate().authority)
    }

    @Test func dnsLeafHasTheProfileAndVerifies() throws {
        let leaf = try minter.mint(try LeafName("Api.Example.COM."))
        let path = try directory.write(try leaf.pemChain(), to: "leaf.pem")
        try OpenSSLTool.run(["verify", "-CAfile", store.certificateFile.path, "-purpose", "sslserver", path])
        try OpenSSLTool.run(["verify", "-CAfile", store.certificateFile.path, "-verify_hostname", "api.example.com", path])

        let text = try OpenSSLTool.text(ofCertificate: path)
        #expect(text.contains("Subject: CN = api.example.com"))
        #expect(text.contains("DNS:api.example.com"))
        #expect(text.contains("Basic Constraints: critical\n                CA:FALSE"))
        #expect(text.contains("Key Usage: critical\n                Digital Signature"))
        #expect(text.contains("Extended Key Usage: \n                TLS Web Server Authentication"))
        #expect(text.contains("ASN1 OID: prime256v1"))
        #expect(text.contains("Signature Algorithm: ecdsa-with-SHA256"))
        let caText = try OpenSSLTool.text(ofCertificate: store.certificateFile.path)
        let subjectKeyIdentifier = try #require(line(after: "Subject Key Identifier", in: caText))
        #expect(line(after: "Authority Key Identifier", in: text) == subjectKeyIdentifier)
    }

    @Test func mintedLeafCarriesADecodedKeyForTLSContexts() throws {
        let leaf = try minter.mint(try LeafName("tls.example"))
        // SSL_CTX_use_certificate needs the decoded public key; it must match the shared leaf key.
        let publicKey = try #require(X509_get0_pubkey(leaf.certificate.pointer))
        #expect(EVP_PKEY_eq(publicKey, leaf.privateKey.pointer) == 1)
    }

    @Test func wrongHostnameDoesNotVerify() throws {
        let leaf = try minter.mint(try LeafName("api.example.com"))
        let path = try directory.write(try leaf.pemChain(), to: "leaf.pem")
        let result = try ProcessRunner.run(
            "openssl", ["verify", "-CAfile", store.certificateFile.path, "-verify_hostname", "evil.example.com", path]
        )
        #expect(result.status != 0)
        #expect(result.combinedOutput.contains("hostname mismatch"))
    }

    @Test(arguments: [("203.0.113.7", "IP Address:203.0.113.7"), ("2001:DB8::1", "IP Address:2001:DB8:0:0:0:0:0:1")])
    func addressLeafHasAnIPSubjectAltName(name: String, expected: String) throws {
        let leaf = try minter.mint(try LeafName(name))
        let path = try directory.write(try leaf.pemChain(), to: "leaf.pem")
        #expect(try OpenSSLTool.text(ofCertificate: path).contains(expected))
        let address = try LeafName(name).value
        try OpenSSLTool.run(["verify", "-CAfile", store.certificateFile.path, "-verify_ip", address, path])
    }

    @Test func validityIsBackdatedShortAndWithinTheCA() throws {
        let now = Date()
        let leaf = try minter.mint(try LeafName("example.com"), now: now)
        let certificate = leaf.certificate
        #expect(abs(certificate.notBefore.timeIntervalSince(now) + LeafMinter.backdating) < 2)
        #expect(abs(certificate.notAfter.timeIntervalSince(now) - minter.validity) < 2)
        #expect(minter.validity <= 30 * 24 * 3600)
    }

    @Test func validityNeverOutlastsTheCA() throws {
        let (certificate, key) = try OpenSSLTool.makeUserCA(
            in: directory, name: "short-ca", keyAlgorithm: ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"], days: 2
        )
        let authority = try CertificateAuthorityStore(
            certificateFile: URL(fileURLWithPath: certificate), keyFile: URL(fileURLWithPath: key)
        ).load()
        let leaf = try LeafMinter(authority: authority).mint(try LeafName("example.com"))
        #expect(leaf.certificate.notAfter == authority.certificate.notAfter)
        #expect(leaf.certificate.notBefore >= authority.certificate.notBefore)
    }

    @Test func userCAWithoutSubjectKeyIdentifierIsNamedByIssuerAndSerial() throws {
        let (certificate, key) = try OpenSSLTool.makeUserCA(
            in: directory, name: "no-ski-ca", keyAlgorithm: ["rsa:2048"],
            extensions: ["subjectKeyIdentifier=none", "authorityKeyIdentifier=none"]
        )
        #expect(!(try OpenSSLTool.text(ofCertificate: certificate).contains("Subject Key Identifier")))
        let authority = try CertificateAuthorityStore(
            certificateFile: URL(fileURLWithPath: certificate), keyFile: URL(fileURLWithPath: key)
        ).load()
        let leaf = try LeafMinter(authority: authority).mint(try LeafName("example.com"))
        let path = try directory.write(try leaf.pemChain(), to: "leaf.pem")
        #expect(try OpenSSLTool.text(ofCertificate: path).contains("DirName:/CN=no-ski-ca"))
        try OpenSSLTool.run(["verify", "-CAfile", certificate, "-verify_hostname", "example.com", path])
    }

    @Test func everyLeafSharesOneKeyButHasItsOwnSerial() throws {
        let first = try minter.mint(try LeafName("a.example"))
        let second = try minter.mint(try LeafName("a.example"))
        #expect(first.privateKey === second.privateKey)
        let firstPath = try directory.write(try first.certificate.pemString(), to: "1.pem")
        let secondPath = try directory.write(try second.certificate.pemString(), to: "2.pem")
        let serials = try [firstPath, secondPath].map { try OpenSSLTool.run(["x509", "-in", $0, "-noout", "-serial"]) }
        #expect(serials[0] != serials[1])
    }

    @Test func longNamesKeepTheirSubjectAltNameAndDropTheCN() throws {
        let name = String(repeating: "a", count: 60) + "." + String(repeating: "b", count: 60) + ".example"
        let leaf = try minter.mint(try LeafName(name))
        let path = try directory.write(try leaf.pemChain(), to: "leaf.pem")
        #expect(try OpenSSLTool.text(ofCertificate: path).contains("DNS:\(name)"))
        try OpenSSLTool.run(["verify", "-CAfile", store.certificateFile.path, "-verify_hostname", name, path])
    }

    private func line(after heading: String, in text: String) -> String? {
        let lines = text.split(separator: "\n")
        guard let index = lines.firstIndex(where: { $0.contains(heading) }), index + 1 < lines.count else { return nil }
        return lines[index + 1].trimmingCharacters(in: .whitespaces)
    }
}
