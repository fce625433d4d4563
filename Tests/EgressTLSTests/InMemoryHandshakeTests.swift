@testable import EgressTLS
import NIOCore
import NIOEmbedded
import NIOTLS
import Testing

/// Client and server handlers talking to each other through memory.
@Suite struct InMemoryHandshakeTests {
    let pki: TestPKI

    init() throws {
        pki = try TestPKI.shared.get()
    }

    @Test func handshakeNegotiatesHTTP1AndReportsDetails() throws {
        let pair = try InMemoryPair(clientContext: pki.trustingClientContext(), serverContext: pki.serverContext())
        try pair.interact()

        #expect(pair.client.recorder.tlsEvents == [.handshakeCompleted(negotiatedProtocol: "http/1.1")])
        #expect(pair.server.recorder.tlsEvents == [.handshakeCompleted(negotiatedProtocol: "http/1.1")])
        let client = try #require(pair.client.handler.handshakeResult)
        let server = try #require(pair.server.handler.handshakeResult)
        #expect(client.peerCertificateVerified)
        #expect(!server.peerCertificateVerified)
        #expect(server.serverName == "localhost")
        #expect(client.serverName == "localhost")
        #expect(client.protocolVersion == "TLSv1.3")
        #expect(server.cipherSuite == client.cipherSuite)
        #expect(!client.sessionReused)
        #expect(pair.client.recorder.errors.isEmpty && pair.server.recorder.errors.isEmpty)
    }

    @Test func applicationDataFlowsBothWaysIncludingMultiRecordPayloads() throws {
        let pair = try InMemoryPair(clientContext: pki.trustingClientContext(), serverContext: pki.serverContext())
        try pair.interact()

        pair.client.send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        try pair.interact()
        #expect(pair.server.recorder.receivedText == "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")

        let large = ByteBuffer(bytes: (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let written = pair.server.channel.writeAndFlush(large)
        try pair.interact()
        try written.wait()
        #expect(pair.client.recorder.received == large)
        #expect(pair.client.recorder.readCount >= 100_000 / (16 * 1024))
        // The 100 KB burst went through the memory BIOs; an idle connection does not keep them big.
        #expect(pair.client.handler.networkBufferCapacity <= 2 * TLSConnection.idleBufferLimit)
        #expect(pair.server.handler.networkBufferCapacity <= 2 * TLSConnection.idleBufferLimit)
        #expect(pair.client.recorder.errors.isEmpty && pair.server.recorder.errors.isEmpty)
    }

    @Test func writesBeforeTheHandshakeAreSentAfterIt() throws {
        let pair = try InMemoryPair(clientContext: pki.trustingClientContext(), serverContext: pki.serverContext())
        let early = pair.client.channel.write(ByteBuffer(string: "early "))
        pair.client.send("bird")
        let unflushed = pair.client.channel.write(ByteBuffer(string: " (unflushed)"))
        try pair.interact()

        try early.wait()
        #expect(pair.server.recorder.receivedText == "early bird")
        #expect(pair.server.recorder.tlsEvents == [.handshakeCompleted(negotiatedProtocol: "http/1.1")])

        pair.client.channel.flush()
        try pair.interact()
        try unflushed.wait()
        #expect(pair.server.recorder.receivedText == "early bird (unflushed)")
    }

    /// A waiting write whose failure closes the channel and writes again (a common
    /// `whenComplete { close }`) comes back into the handler while its writes are being failed.
    @Test func aFailedWritesCallbackMayCloseAndWriteAgain() throws {
        let client = try InMemoryEndpoint(context: pki.trustingClientContext(), role: .client(serverHostname: "localhost"))
        let channel = client.channel
        let first = channel.write(ByteBuffer(string: "never sent"))
        let second = channel.write(ByteBuffer(string: "nor this"))
        let late = channel.eventLoop.makePromise(of: Void.self)
        first.whenFailure { _ in
            channel.close(promise: nil)
            channel.write(ByteBuffer(string: "late"), promise: late)
        }
        try? channel.close().wait()
        #expect(throws: (any Error).self) { try first.wait() }
        #expect(throws: (any Error).self) { try second.wait() }
        #expect(throws: (any Error).self) { try late.futureResult.wait() }
    }

    @Test func aFlushEncryptsAllWritesIntoOneNetworkWrite() throws {
        let pair = try InMemoryPair(clientContext: pki.trustingClientContext(), serverContext: pki.serverContext())
        try pair.interact()

        let writes = ["one ", "two ", "three"].map { pair.client.channel.write(ByteBuffer(string: $0)) }
        pair.client.channel.write(ByteBuffer(string: " four"), promise: nil)
        #expect(try pair.client.takeOutbound().isEmpty)
        pair.client.channel.flush()
        let outbound = try pair.client.takeOutbound()
        #expect(outbound.count == 1)
        // Small flushed writes share one record (type 23, application data).
        #expect(outbound.first.map(Self.recordTypes) == [23])
        for write in writes {
            try write.wait()
        }

        try pair.server.deliver(outbound)
        #expect(pair.server.recorder.receivedText == "one two three four")
    }

    @Test func flushedWritesPastOneRecordAreEncryptedInOrder() throws {
        let pair = try InMemoryPair(clientContext: pki.trustingClientContext(), serverContext: pki.serverContext())
        try pair.interact()
        let big = String(repeating: "x", count: 20_000)
        let writes = ["head ", big, " tail"].map { pair.client.channel.write(ByteBuffer(string: $0)) }
        pair.client.channel.flush()
        let outbound = try pair.client.takeOutbound()
        #expect(outbound.first.map(Self.recordTypes).map { $0.count >= 2 } == true, "more than 16 KiB needs several records")
        for write in writes {
            try write.wait()
        }
        try pair.server.deliver(outbound)
        #expect(pair.server.recorder.receivedText == "head " + big + " tail")
    }

    /// The content types of the TLS records in `ciphertext`, in order.
    private static func recordTypes(_ ciphertext: ByteBuffer) -> [UInt8] {
        var buffer = ciphertext
        var types: [UInt8] = []
        while let type = buffer.readInteger(as: UInt8.self), buffer.readInteger(as: UInt16.self) != nil,
              let length = buffer.readInteger(as: UInt16.self), buffer.readSlice(length: Int(length)) != nil
        {
            types.append(type)
        }
        return types
    }

    @Test func closeSendsCloseNotifyAndThePeerClosesCleanly() throws {
        let pair = try InMemoryPair(clientContext: pki.trustingClientContext(), serverContext: pki.serverContext())
        try pair.interact()

        let closed = pair.client.channel.close()
        try pair.interact()
        try closed.wait()

        #expect(!pair.client.channel.isActive)
        #expect(!pair.server.channel.isActive)
        #expect(pair.server.recorder.tlsEvents.last == .shutdownCompleted)
        #expect(pair.server.recorder.errors.isEmpty)
        #expect(pair.client.recorder.errors.isEmpty)
    }

    @Test func closeNotifyWithHalfClosureKeepsTheWriteSideOpen() throws {
        let pair = try InMemoryPair(
            clientContext: pki.trustingClientContext(),
            serverContext: pki.serverContext(),
            serverHalfClosure: true
        )
        try pair.interact()

        try pair.client.channel.close(mode: .all).wait()
        let toServer = try pair.client.takeOutbound()
        try pair.server.deliver(toServer)
        #expect(pair.server.recorder.inputClosed)
        #expect(pair.server.channel.isActive)

        let reply = pair.server.channel.writeAndFlush(ByteBuffer(string: "still writable"))
        try reply.wait()
        #expect(try pair.server.takeOutbound().contains { $0.readableBytes > 0 })

        try pair.server.channel.close().wait()
        #expect(pair.server.recorder.tlsEvents.last == .shutdownCompleted)
        #expect(pair.server.recorder.errors.isEmpty)
    }

    @Test func handlerAddedToAnActiveChannelTakesAlreadyReadBytes() throws {
        // The proxy adds the server handler after sniffing, then re-fires the peeked bytes.
        let client = try InMemoryEndpoint(context: pki.trustingClientContext(), role: .client(serverHostname: "localhost"))
        let clientHello = try client.takeOutbound()
        #expect(!clientHello.isEmpty)

        let server = EmbeddedChannel()
        defer { _ = try? server.finish(acceptAlreadyClosed: true) }
        try server.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 443)).wait()
        let handler = try TLSHandler(context: pki.serverContext(), role: .server)
        let recorder = EventRecorder()
        try server.pipeline.syncOperations.addHandlers([handler, recorder])
        for buffer in clientHello {
            server.pipeline.fireChannelRead(buffer)
        }
        try client.deliver(try server.readAllOutbound())
        for buffer in try client.takeOutbound() {
            try server.writeInbound(buffer)
        }

        #expect(recorder.tlsEvents == [.handshakeCompleted(negotiatedProtocol: "http/1.1")])
        #expect(handler.handshakeResult?.serverName == "localhost")
    }

    @Test func clientAddedToAnActiveChannelStartsItsHandshake() throws {
        let channel = EmbeddedChannel()
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 443)).wait()
        try channel.pipeline.syncOperations.addHandler(TLSHandler(context: pki.trustingClientContext(), role: .client(serverHostname: "localhost")))
        let hello = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(hello.getInteger(at: 0, as: UInt8.self) == 0x16)  // a handshake record
    }

    @Test func handshakeAsksForReadsWithoutTheApplication() throws {
        let channel = EmbeddedChannel()
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        let reads = ReadCounter()
        try channel.pipeline.syncOperations.addHandlers([
            reads, TLSHandler(context: pki.trustingClientContext(), role: .client(serverHostname: "localhost")),
        ])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 443)).wait()
        #expect(reads.count == 1)
    }

    @Test func ipLiteralIsVerifiedAgainstIPSubjectAltNamesWithoutSNI() throws {
        let pair = try InMemoryPair(clientContext: pki.trustingClientContext(), serverHostname: "127.0.0.1", serverContext: pki.serverContext())
        try pair.interact()
        #expect(pair.client.handler.handshakeResult?.peerCertificateVerified == true)
        #expect(pair.server.handler.handshakeResult?.serverName == nil)
    }

    @Test func noCommonALPNProtocolProceedsWithoutOne() throws {
        let pair = try InMemoryPair(clientContext: pki.trustingClientContext(alpn: ["h2"]), serverContext: pki.serverContext())
        try pair.interact()
        #expect(pair.client.recorder.tlsEvents == [.handshakeCompleted(negotiatedProtocol: nil)])
        #expect(pair.server.recorder.tlsEvents == [.handshakeCompleted(negotiatedProtocol: nil)])
    }

    @Test func serverPicksItsOwnPreferenceAmongOfferedProtocols() throws {
        let pair = try InMemoryPair(
            clientContext: pki.trustingClientContext(alpn: ["http/1.1", "h2"]),
            serverContext: pki.serverContext(alpn: ["h2", "http/1.1"])
        )
        try pair.interact()
        #expect(pair.client.handler.handshakeResult?.negotiatedProtocol == "h2")
    }

    @Test func clientWithoutALPNGetsNone() throws {
        let pair = try InMemoryPair(clientContext: pki.trustingClientContext(alpn: []), serverContext: pki.serverContext())
        try pair.interact()
        #expect(pair.server.recorder.tlsEvents == [.handshakeCompleted(negotiatedProtocol: nil)])
    }
}

/// Counts the `read()` requests that reach the network.
final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer

    private(set) var count = 0

    func read(context: ChannelHandlerContext) {
        count += 1
        context.read()
    }
}

extension EmbeddedChannel {
    /// All buffers written to the network so far.
    func readAllOutbound() throws -> [ByteBuffer] {
        var buffers: [ByteBuffer] = []
        while let buffer = try readOutbound(as: ByteBuffer.self) {
            buffers.append(buffer)
        }
        return buffers
    }
}
