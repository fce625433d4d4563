import EgressTLS
import NIOCore
import NIOEmbedded
import Testing

/// Bytes from the network that are not TLS, or not all of it: an error, a closed channel,
/// never a crash.
@Suite struct MalformedInputTests {
    let pki: TestPKI

    init() throws {
        pki = try TestPKI.shared.get()
    }

    private func server() throws -> InMemoryEndpoint {
        try InMemoryEndpoint(context: pki.serverContext(), role: .server)
    }

    @Test(arguments: [
        Array("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8),
        [0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0xFF, 0xFF, 0xFF, 0xFF],  // a ClientHello with a huge length
        [0x16, 0x03, 0x01, 0xFF, 0xFF] + [UInt8](repeating: 0, count: 64),  // an oversized record
        [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28],  // a fatal alert instead of a hello
        [UInt8](repeating: 0, count: 4096),
    ])
    func garbageFailsTheHandshakeAndCloses(bytes: [UInt8]) throws {
        let server = try server()
        try server.deliver([ByteBuffer(bytes: bytes)])

        let error = try #require(server.recorder.tlsErrors.first)
        guard case .handshakeFailed = error else {
            Issue.record("expected a handshake failure, got \(error)")
            return
        }
        #expect(!server.channel.isActive)
        #expect(server.recorder.received.readableBytes == 0)
    }

    @Test func randomBytesNeverCrash() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let server = try server()
            let length = Int.random(in: 1...2048, using: &generator)
            var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if Bool.random(using: &generator) {
                // A plausible record header, so the handshake layer sees the garbage too.
                bytes.replaceSubrange(0..<min(3, length), with: [0x16, 0x03, 0x01].prefix(length))
            }
            try server.deliver([ByteBuffer(bytes: bytes)])
            // Either rejected and closed, or still waiting for the rest of a record.
            #expect(!server.recorder.tlsErrors.isEmpty || server.channel.isActive)
            #expect(server.recorder.tlsErrors.isEmpty || !server.channel.isActive)
        }
    }

    @Test func truncatedClientHelloThenEOFIsAHandshakeError() throws {
        let client = try InMemoryEndpoint(context: pki.trustingClientContext(), role: .client(serverHostname: "localhost"))
        let hello = try #require(try client.takeOutbound().first)
        let server = try server()
        try server.deliver([try #require(hello.getSlice(at: hello.readerIndex, length: 40))])
        #expect(server.recorder.errors.isEmpty)

        server.channel.pipeline.fireChannelInactive()
        let error = try #require(server.recorder.tlsErrors.first)
        #expect(error == .handshakeFailed("the connection closed during the handshake"))
    }

    @Test func corruptRecordAfterTheHandshakeFailsTheConnection() throws {
        let pair = try InMemoryPair(clientContext: pki.trustingClientContext(), serverContext: pki.serverContext())
        try pair.interact()
        pair.client.send("some application data")
        var record = try #require(try pair.client.takeOutbound().first)
        let last = record.writerIndex - 1
        record.setInteger(record.getInteger(at: last, as: UInt8.self)! ^ 0xFF, at: last)
        try pair.server.deliver([record])

        let error = try #require(pair.server.recorder.tlsErrors.first)
        guard case .connectionFailed(let reason) = error else {
            Issue.record("expected a connection failure, got \(error)")
            return
        }
        #expect(reason.contains("decryption failed or bad record mac"))
        #expect(!pair.server.channel.isActive)
        #expect(pair.server.recorder.received.readableBytes == 0)
    }

    @Test func eofWithoutCloseNotifyIsAnUncleanShutdown() throws {
        let pair = try InMemoryPair(clientContext: pki.trustingClientContext(), serverContext: pki.serverContext())
        try pair.interact()
        pair.server.channel.pipeline.fireChannelInactive()
        #expect(pair.server.recorder.tlsErrors == [.uncleanShutdown])
    }

    @Test func tcpHalfCloseWithoutCloseNotifyIsAnUncleanShutdown() throws {
        let pair = try InMemoryPair(clientContext: pki.trustingClientContext(), serverContext: pki.serverContext(), serverHalfClosure: true)
        try pair.interact()
        pair.server.channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(pair.server.recorder.tlsErrors == [.uncleanShutdown])
        #expect(!pair.server.recorder.inputClosed)
        #expect(!pair.server.channel.isActive)
    }

    @Test func tcpHalfCloseAfterCloseNotifyIsReportedOnce() throws {
        let pair = try InMemoryPair(clientContext: pki.trustingClientContext(), serverContext: pki.serverContext(), serverHalfClosure: true)
        try pair.interact()
        try pair.client.channel.close().wait()
        try pair.interact()
        #expect(pair.server.recorder.inputClosed)
        pair.server.channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(pair.server.recorder.errors.isEmpty)
        #expect(pair.server.channel.isActive)
    }

    @Test func eofBeforeAnyBytesIsNotAnError() throws {
        let server = try server()
        server.channel.pipeline.fireChannelInactive()
        #expect(server.recorder.errors.isEmpty)
    }
}
