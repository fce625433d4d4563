import EgressCertificates
import EgressTesting
import Foundation
import Testing

@Suite struct CertificateAuthorityTests {
    @Test func generatedCAIsAnECDSAP256CertificateAuthority() throws {
        let directory = try TemporaryDirectory()
        let store = CertificateAuthorityStore(stateDirectory: directory.url.appendingPathComponent("state"))
        let (authority, created) = try store.loadOrCreate()
        #expect(created)
        #expect(authority.privateKey.summary == "EC 256")
        #expect(authority.certificate.subject.contains("CN=Egress Interception CA"))
        #expect(authority.certificate.subject == authority.certificate.issuer)

        let text = try OpenSSLTool.text(ofCertificate: store.certificateFile.path)
        #expect(text.contains("ASN1 OID: prime256v1"))
        #expect(text.contains("Basic Constraints: critical\n                CA:TRUE"))
        #expect(text.contains("Key Usage: critical\n                Certificate Sign, CRL Sign"))
        #expect(text.contains("Subject Key Identifier"))
        try OpenSSLTool.run(["verify", "-CAfile", store.certificateFile.path, store.certificateFile.path])
    }

    @Test func stateDirectoryAndKeyArePrivate() throws {
        let directory = try TemporaryDirectory()
        let state = directory.url.appendingPathComponent("nested/state")
        let store = CertificateAuthorityStore(stateDirectory: state)
        _ = try store.loadOrCreate()
        #expect(try permissions(state.path) == 0o700)
        #expect(try permissions(store.keyFile.path) == 0o600)
        #expect(try permissions(store.certificateFile.path) == 0o644)
        let key = try String(contentsOf: store.keyFile, encoding: .utf8)
        #expect(key.hasPrefix("-----BEGIN PRIVATE KEY-----"))
    }

    @Test func existingLooseStateDirectoryIsTightened() throws {
        let directory = try TemporaryDirectory()
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory.url.path)
        _ = try CertificateAuthorityStore(stateDirectory: directory.url).loadOrCreate()
        #expect(try permissions(directory.url.path) == 0o700)
    }

    @Test func secondUseLoadsTheSameCA() throws {
        let directory = try TemporaryDirectory()
        let store = CertificateAuthorityStore(stateDirectory: directory.url)
        let first = try store.loadOrCreate()
        let second = try store.loadOrCreate()
        #expect(!second.created)
        #expect(first.authority.certificate.sha256Fingerprint == second.authority.certificate.sha256Fingerprint)
        #expect(try store.load().certificate.sha256Fingerprint == first.authority.certificate.sha256Fingerprint)
    }

    @Test func corruptCertificateIsRefusedAndKept() throws {
        let directory = try TemporaryDirectory()
        let store = CertificateAuthorityStore(stateDirectory: directory.url)
        _ = try store.loadOrCreate()
        let garbage = "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n"
        try garbage.write(to: store.certificateFile, atomically: true, encoding: .utf8)
        let error = #expect(throws: CertificateError.self) { try store.loadOrCreate() }
        #expect(error?.description.contains("ca.crt") == true)
        #expect(error?.description.contains("not a readable PEM certificate") == true)
        #expect(try String(contentsOf: store.certificateFile, encoding: .utf8) == garbage)
    }

    @Test func mismatchedPairIsRefusedAndKept() throws {
        let first = try TemporaryDirectory(), second = try TemporaryDirectory()
        let store = CertificateAuthorityStore(stateDirectory: first.url)
        let other = CertificateAuthorityStore(stateDirectory: second.url)
        _ = try store.loadOrCreate()
        _ = try other.loadOrCreate()
        let foreignKey = try Data(contentsOf: other.keyFile)
        try FileManager.default.removeItem(at: store.keyFile)
        try foreignKey.write(to: store.keyFile)
        let error = #expect(throws: CertificateError.self) { try store.loadOrCreate() }
        #expect(error?.description.contains("does not match") == true)
        #expect(try Data(contentsOf: store.keyFile) == foreignKey)
    }

    @Test(arguments: ["ca.crt", "ca.key"])
    func halfAPairIsRefused(missing: String) throws {
        let directory = try TemporaryDirectory()
        let store = CertificateAuthorityStore(stateDirectory: directory.url)
        _ = try store.loadOrCreate()
        try FileManager.default.removeItem(at: directory.url.appendingPathComponent(missing))
        let error = #expect(throws: CertificateError.self) { try store.loadOrCreate() }
        #expect(error?.description.contains("refusing to replace half a CA") == true)
        #expect(!FileManager.default.fileExists(atPath: directory.path(missing)))
    }

    @Test(arguments: [["rsa:2048"], ["ec", "-pkeyopt", "ec_paramgen_curve:P-384"]])
    func userCAIsLoadedAndSignsLeaves(keyAlgorithm: [String]) throws {
        let directory = try TemporaryDirectory()
        let (certificate, key) = try OpenSSLTool.makeUserCA(in: directory, name: "user-ca", keyAlgorithm: keyAlgorithm)
        let store = CertificateAuthorityStore(
            certificateFile: URL(fileURLWithPath: certificate), keyFile: URL(fileURLWithPath: key)
        )
        let authority = try store.load()
        #expect(authority.certificate.subject == "CN=user-ca")
        let leaf = try LeafMinter(authority: authority).mint(try LeafName("user.example"))
        let chain = try directory.write(try leaf.pemChain(), to: "chain.pem")
        try OpenSSLTool.run(["verify", "-CAfile", certificate, chain])
    }

    @Test func userCertificateThatIsNotACAIsRefused() throws {
        let directory = try TemporaryDirectory()
        let (certificate, key) = try OpenSSLTool.makeUserCA(
            in: directory, name: "plain", keyAlgorithm: ["rsa:2048"], isCA: false
        )
        let store = CertificateAuthorityStore(
            certificateFile: URL(fileURLWithPath: certificate), keyFile: URL(fileURLWithPath: key)
        )
        let error = #expect(throws: CertificateError.self) { try store.load() }
        #expect(error?.description.contains("is not a CA") == true)
    }

    @Test func encryptedKeyIsRefusedWithoutPrompting() throws {
        let directory = try TemporaryDirectory()
        let (certificate, key) = try OpenSSLTool.makeUserCA(in: directory, name: "locked", keyAlgorithm: ["rsa:2048"])
        let encrypted = directory.path("locked-encrypted.key")
        try OpenSSLTool.run(["pkey", "-in", key, "-out", encrypted, "-aes256", "-passout", "pass:secret"])
        let store = CertificateAuthorityStore(
            certificateFile: URL(fileURLWithPath: certificate), keyFile: URL(fileURLWithPath: encrypted)
        )
        let error = #expect(throws: CertificateError.self) { try store.load() }
        #expect(error?.description.contains("encrypted keys are not supported") == true)
    }

    @Test func missingFilesAreNamed() throws {
        let store = CertificateAuthorityStore(
            certificateFile: URL(fileURLWithPath: "/nonexistent/ca.pem"), keyFile: URL(fileURLWithPath: "/nonexistent/ca.key")
        )
        let error = #expect(throws: CertificateError.self) { try store.loadOrCreate() }
        #expect(error?.description.contains("/nonexistent/ca.pem") == true)
    }

    private func permissions(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }
}
