import EgressTLS
import NIOCore
import Testing

/// A client that must not trust the server fails the handshake with a readable reason, and
/// both channels close.
@Suite struct VerificationFailureTests {
    let pki: TestPKI

    init() throws {
        pki = try TestPKI.shared.get()
    }

    @Test func untrustedIssuerFailsVerification() throws {
        let pair = try InMemoryPair(clientContext: TLSContext.client(), serverContext: pki.serverContext())
        try pair.interact()

        let error = try #require(pair.client.recorder.tlsErrors.first)
        guard case .handshakeFailed(let reason) = error else {
            Issue.record("expected a handshake failure, got \(error)")
            return
        }
        #expect(reason.contains("certificate verify failed"))
        // The server sends the CA along, so OpenSSL finds a root it does not trust.
        #expect(reason.contains("self-signed certificate in certificate chain"))
        #expect(error.description.hasPrefix("handshake failed: certificate verify failed"))
        #expect(pair.client.recorder.tlsEvents.isEmpty)
        #expect(pair.client.handler.handshakeResult == nil)
        #expect(!pair.client.channel.isActive)

        // The server hears why through the alert, and closes too.
        let serverError = try #require(pair.server.recorder.tlsErrors.first)
        #expect(serverError.description.contains("unknown ca"))
        #expect(!pair.server.channel.isActive)
    }

    @Test func missingIssuerFailsVerification() throws {
        let leafOnly = try TLSContext.server(certificateChainPEM: pki.leafCertificatePEM, privateKeyPEM: pki.leafKeyPEM)
        let pair = try InMemoryPair(clientContext: TLSContext.client(), serverContext: leafOnly)
        try pair.interact()

        let error = try #require(pair.client.recorder.tlsErrors.first)
        #expect(error.description == "handshake failed: certificate verify failed (unable to get local issuer certificate)")
    }

    @Test func hostnameMismatchFailsVerification() throws {
        let pair = try InMemoryPair(
            clientContext: pki.trustingClientContext(),
            serverHostname: "www.example.com",
            serverContext: pki.serverContext()
        )
        try pair.interact()

        let error = try #require(pair.client.recorder.tlsErrors.first)
        #expect(error.description.contains("certificate verify failed"))
        #expect(error.description.contains("hostname mismatch"))
        #expect(!pair.client.channel.isActive)
    }

    @Test func ipAddressMismatchFailsVerification() throws {
        let pair = try InMemoryPair(clientContext: pki.trustingClientContext(), serverHostname: "10.0.0.1", serverContext: pki.serverContext())
        try pair.interact()

        let error = try #require(pair.client.recorder.tlsErrors.first)
        #expect(error.description.contains("IP address mismatch"))
    }

    @Test func writesWaitingForAFailedHandshakeFail() throws {
        let pair = try InMemoryPair(clientContext: TLSContext.client(), serverContext: pki.serverContext())
        let write = pair.client.channel.writeAndFlush(ByteBuffer(string: "never sent"))
        try pair.interact()
        #expect(throws: TLSError.self) { try write.wait() }
        #expect(pair.server.recorder.received.readableBytes == 0)
    }

    @Test func withoutVerificationTheHandshakeSucceedsButSaysSo() throws {
        let pair = try InMemoryPair(clientContext: TLSContext.client(verify: false), serverContext: pki.serverContext())
        try pair.interact()
        #expect(pair.client.recorder.tlsEvents == [.handshakeCompleted(negotiatedProtocol: "http/1.1")])
        #expect(pair.client.handler.handshakeResult?.peerCertificateVerified == false)
    }
}
