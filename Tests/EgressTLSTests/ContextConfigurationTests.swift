@testable import EgressTLS
import Testing

/// Building contexts, ALPN lists and server identities: the parts with no connection.
@Suite struct ContextConfigurationTests {
    @Test func alpnWireFormatIsLengthPrefixed() throws {
        let protocols = try ALPNProtocols(["h2", "http/1.1"])
        #expect(protocols.wireFormat == [2] + Array("h2".utf8) + [8] + Array("http/1.1".utf8))
    }

    @Test(arguments: [[""], [String(repeating: "x", count: 256)]])
    func alpnRejectsEmptyAndOverlongNames(names: [String]) {
        #expect(throws: TLSError.self) { try ALPNProtocols(names) }
    }

    @Test func alpnSelectsTheServersFirstChoiceAmongOffered() throws {
        let server = try ALPNProtocols(["h2", "http/1.1"])
        let offered = try ALPNProtocols(["http/1.1", "spdy/3", "h2"]).wireFormat
        let range = offered.withUnsafeBytes { server.select(fromOffered: $0) }
        #expect(range.map { Array(offered[$0]) } == Array("h2".utf8))
    }

    @Test(arguments: [
        [UInt8](),  // nothing offered
        [8] + Array("spdy/3.1".utf8),  // no overlap
        [0, 2] + Array("h2".utf8),  // a zero length
        [9] + Array("http/1.1".utf8),  // a length past the end
    ])
    func alpnSelectsNothingFromUselessOrMalformedOffers(offered: [UInt8]) throws {
        let server = try ALPNProtocols(["h2", "http/1.1"])
        #expect(offered.withUnsafeBytes { server.select(fromOffered: $0) } == nil)
    }

    @Test func serverIdentityTellsNamesFromAddresses() {
        #expect(ServerIdentity(hostname: "Example.COM.") == .dnsName("example.com"))
        #expect(ServerIdentity(hostname: "127.0.0.1") == .ipAddress("127.0.0.1"))
        #expect(ServerIdentity(hostname: "[2001:db8::1]") == .ipAddress("2001:db8::1"))
        #expect(ServerIdentity(hostname: "::1") == .ipAddress("::1"))
        #expect(ServerIdentity(hostname: "1.2.3") == .dnsName("1.2.3"))
        #expect(ServerIdentity(hostname: "") == nil)
        #expect(ServerIdentity(hostname: ".") == nil)
    }

    @Test func serverContextLoadsFromFiles() throws {
        let pki = try TestPKI.shared.get()
        let directory = try TemporaryDirectory()
        let files = try pki.writeFiles(to: directory)
        _ = try TLSContext.server(certificateChainPEMFile: files.chain, privateKeyPEMFile: files.key)
    }

    @Test func serverContextRejectsAKeyForAnotherCertificate() throws {
        let pki = try TestPKI.shared.get()
        #expect {
            try TLSContext.server(certificateChainPEM: pki.leafCertificatePEM, privateKeyPEM: pki.otherKeyPEM)
        } throws: { error in
            (error as? TLSError)?.description.contains("private key does not match") == true
        }
    }

    @Test(arguments: ["", "not a certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"])
    func serverContextRejectsUnreadableCertificates(pem: String) throws {
        let pki = try TestPKI.shared.get()
        #expect(throws: TLSError.self) {
            try TLSContext.server(certificateChainPEM: pem, privateKeyPEM: pki.leafKeyPEM)
        }
    }

    @Test func serverContextRejectsACorruptBlockAfterTheLeaf() throws {
        let pki = try TestPKI.shared.get()
        let chain = pki.leafCertificatePEM + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
        #expect(throws: TLSError.self) {
            try TLSContext.server(certificateChainPEM: chain, privateKeyPEM: pki.leafKeyPEM)
        }
    }

    @Test func clientContextReportsAMissingRootsFile() {
        #expect {
            try TLSContext.client(extraRootsPEMFile: "/nonexistent/ca.pem")
        } throws: { error in
            (error as? TLSError)?.description.contains("/nonexistent/ca.pem") == true
        }
    }

    @Test func clientRejectsAnOverlongServerName() throws {
        let context = try TLSContext.client()
        #expect(throws: TLSError.self) {
            try TLSHandler(context: context, role: .client(serverHostname: String(repeating: "a", count: 300)))
        }
    }
}
