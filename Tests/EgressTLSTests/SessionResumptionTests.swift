import COpenSSL
@testable import EgressTLS
import NIOCore
import Testing

/// A client context keeps the sessions its connections got and offers them again: the second
/// connection to the same host resumes instead of a full handshake.
@Suite struct SessionResumptionTests {
    let pki: TestPKI

    init() throws {
        pki = try TestPKI.shared.get()
    }

    /// Handshakes, exchanges a little data (which carries the TLS 1.3 tickets), closes.
    private func connect(_ client: TLSContext, to server: TLSContext, hostname: String) throws -> InMemoryPair {
        let pair = try InMemoryPair(clientContext: client, serverHostname: hostname, serverContext: server)
        try pair.interact()
        pair.client.send("ping")
        try pair.interact()
        try pair.client.channel.close().wait()
        try pair.interact()
        return pair
    }

    @Test func secondConnectionToTheSameHostResumes() throws {
        let client = try pki.trustingClientContext()
        let server = try pki.serverContext()

        let first = try connect(client, to: server, hostname: "localhost")
        #expect(first.client.handler.handshakeResult?.sessionReused == false)

        let second = try connect(client, to: server, hostname: "localhost")
        let result = try #require(second.client.handler.handshakeResult)
        #expect(result.sessionReused)
        #expect(result.peerCertificateVerified)
        #expect(result.negotiatedProtocol == "http/1.1")
        #expect(second.server.handler.handshakeResult?.sessionReused == true)
        #expect(second.server.recorder.receivedText == "ping")
    }

    @Test func sessionsAreKeptPerHost() throws {
        let client = try pki.trustingClientContext()
        let server = try pki.serverContext()

        _ = try connect(client, to: server, hostname: "localhost")
        let other = try connect(client, to: server, hostname: "127.0.0.1")
        #expect(other.client.handler.handshakeResult?.sessionReused == false)
        let again = try connect(client, to: server, hostname: "127.0.0.1")
        #expect(again.client.handler.handshakeResult?.sessionReused == true)
    }

    @Test func aSessionFromAnotherServerIsNotResumed() throws {
        let client = try pki.trustingClientContext()
        _ = try connect(client, to: pki.serverContext(), hostname: "localhost")
        // A different server context has different ticket keys: a full handshake, still verified.
        let fresh = try connect(client, to: pki.serverContext(), hostname: "localhost")
        #expect(fresh.client.handler.handshakeResult?.sessionReused == false)
        #expect(fresh.client.handler.handshakeResult?.peerCertificateVerified == true)
    }
}

/// The client session table itself: copies, bounds, least recently used out first.
@Suite struct ClientSessionCacheTests {
    /// A resumable (it has an id) but otherwise empty session.
    private func makeSession(id: UInt8) throws -> OpaquePointer {
        let session = try #require(SSL_SESSION_new())
        let bytes: [UInt8] = Array(repeating: id, count: 32)
        #expect(SSL_SESSION_set1_id(session, bytes, UInt32(bytes.count)) == 1)
        return session
    }

    @Test func keepsCopiesAndEvictsTheLeastRecentlyUsed() throws {
        let cache = ClientSessionCache(capacity: 2)
        for (index, key) in ["a", "b"].enumerated() {
            let session = try makeSession(id: UInt8(index))
            cache.store(session, for: key)
            SSL_SESSION_free(session)  // the cache holds its own copy
        }
        let context = try TLSContext.client()
        let ssl = try #require(SSL_new(context.sslContext))
        defer { SSL_free(ssl) }
        cache.offer(to: ssl, for: "a")  // "a" is now more recent than "b"
        #expect(SSL_get_session(ssl) != nil)

        let third = try makeSession(id: 3)
        cache.store(third, for: "c")
        SSL_SESSION_free(third)
        #expect(cache.count == 2)

        let probe = try #require(SSL_new(context.sslContext))
        defer { SSL_free(probe) }
        cache.offer(to: probe, for: "b")
        #expect(SSL_get_session(probe) == nil)
        cache.offer(to: probe, for: "a")
        #expect(SSL_get_session(probe) != nil)
    }

    @Test func ignoresSessionsThatCannotResume() throws {
        let cache = ClientSessionCache(capacity: 2)
        let empty = try #require(SSL_SESSION_new())
        cache.store(empty, for: "a")
        SSL_SESSION_free(empty)
        #expect(cache.count == 0)
    }
}
