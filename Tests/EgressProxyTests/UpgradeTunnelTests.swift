@testable import EgressProxy
import EgressTesting
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// Records what an upstream exchange hands its sink; on the end of a `101`, does what
/// ``DirectExchange`` does: writes the 101 to the client and starts the tunnel.
private final class SwitchingSink: UpstreamResponseSink {
    var heads: [HTTPResponseHead] = []
    var body = ""
    var ends = 0
    var failures: [String] = []
    var onSwitch: (() -> Void)?

    func receivedHead(_ head: HTTPResponseHead, control: UpstreamExchangeControl) {
        heads.append(head)
    }

    func receivedBody(_ chunk: ByteBuffer) -> Bool {
        body += String(buffer: chunk)
        return true
    }

    func readComplete() {}

    func receivedEnd() {
        ends += 1
        if heads.last?.status == .switchingProtocols { onSwitch?() }
    }

    func failed(_ error: any Error) {
        failures.append("\(error)")
    }
}

/// A client connection with the proxy's HTTP codec and an upstream connection with its HTTP
/// client handlers, on one embedded loop, as ``DirectExchange`` has them when an upgrade
/// request goes out.
private final class UpgradeFixture {
    let loop = EmbeddedEventLoop()
    let client: EmbeddedChannel
    let upstream: EmbeddedChannel
    let exchange = UpstreamExchangeHandler(target: UpstreamTarget(host: "198.51.100.7", port: 80, serverName: "ws.example"))
    let sink = SwitchingSink()
    var ended: (up: Int, down: Int)?

    init() throws {
        client = EmbeddedChannel(loop: loop)
        upstream = EmbeddedChannel(loop: loop)
        for channel in [client, upstream] {
            channel.connect(to: try SocketAddress(ipAddress: "198.51.100.7", port: 80), promise: nil)
        }
        try HTTPServerCodec.add(to: client.pipeline.syncOperations)
        try upstream.pipeline.syncOperations.addHTTPClientHandlers(leftOverBytesStrategy: .forwardBytes)
        try upstream.pipeline.syncOperations.addHandler(exchange)
        sink.onSwitch = { [unowned self] in
            var head = HTTPConversion.clientHead(forwarding: sink.heads[0], version: .http1_1)
            HTTPConversion.keepUpgrade(&head.headers, from: sink.heads[0].headers)
            client.writeAndFlush(HTTPServerResponsePart.head(head), promise: nil)
            // A tunnel still open when the test ends closes in deinit.
            UpgradeTunnel.start(client: client, upstream: upstream) { [weak self] up, down in self?.ended = (up, down) }
        }
    }

    /// Sends the client's bytes (`request`) into the proxy and the head it parsed on to the
    /// origin as ``DirectExchange`` would; returns the parsed head.
    func clientAsks(_ request: String) throws -> HTTPRequestHead {
        try client.writeInbound(ByteBuffer(string: request))
        guard case .head(let head) = try client.readInbound(as: HTTPServerRequestPart.self) else {
            throw TestSupportError("no request head")
        }
        guard case .end = try client.readInbound(as: HTTPServerRequestPart.self) else { throw TestSupportError("no request end") }
        var upstreamHead = HTTPConversion.upstreamHead(forwarding: head, authority: head.headers.first(name: "host"), path: head.uri)
        if UpgradeRequest(head: head) != nil { HTTPConversion.keepUpgrade(&upstreamHead.headers, from: head.headers) }
        #expect(exchange.begin(upstreamHead, body: [], sink: sink, reusable: {}))
        // As ``RequestGate`` does once such a request has ended: the decoder has stopped.
        if HTTPServerCodec.stopsParsing(after: head) { HTTPServerCodec.stopped(client.pipeline.syncOperations) }
        return head
    }

    /// Records, at the head of `channel`'s pipeline, what goes out on it.
    func record(_ channel: EmbeddedChannel) throws -> WireRecorder {
        let recorder = WireRecorder()
        try channel.pipeline.syncOperations.addHandler(recorder, position: .first)
        return recorder
    }

    deinit {
        // Also on a failed test: an open EmbeddedChannel asserts when it goes away.
        _ = try? client.finish(acceptAlreadyClosed: true)
        _ = try? upstream.finish(acceptAlreadyClosed: true)
    }
}

/// Sits at the head of a pipeline and records, in order, the bytes written, the closes and the
/// reads that reach the socket. Half-closes stop here, as `EmbeddedChannel` would treat any close
/// as a full one; full closes go on.
private final class WireRecorder: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer

    /// The bytes written, with `[close output]` (or `[close all]`) where a close came.
    var transcript = ""
    var reads = 0

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        transcript += String(buffer: unwrapOutboundIn(data))
        context.write(data, promise: promise)
    }

    func read(context: ChannelHandlerContext) {
        reads += 1
        context.read()
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        transcript += mode == .all ? "[close all]" : "[close output]"
        if mode == .all {
            context.close(mode: mode, promise: promise)
        } else {
            promise?.succeed(())
        }
    }
}

private let upgradeRequest = "GET /chat HTTP/1.1\r\nHost: ws.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"

@Suite struct UpgradeTunnelTests {
    @Test func a101TurnsBothConnectionsIntoATunnelAndNoByteReadPastTheHeadsIsLost() throws {
        let fixture = try UpgradeFixture()
        let head = try fixture.clientAsks(upgradeRequest + "client-early")
        #expect(UpgradeRequest(head: head)?.protocols == "websocket")
        let sent = try EmbeddedSupport.written(fixture.upstream)
        #expect(sent.hasPrefix("GET /chat HTTP/1.1\r\nHost: ws.example\r\n"), "\(sent)")
        #expect(sent.contains("Upgrade: websocket\r\n") && sent.contains("Connection: Upgrade\r\n"), "the upgrade fields go out: \(sent)")
        #expect(!sent.contains("client-early"), "bytes behind the request wait for the origin's answer")

        try fixture.upstream.writeInbound(ByteBuffer(
            string: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\norigin-early"
        ))
        fixture.loop.run()  // NIO removes the decoders on the next turn of the loop
        let answered = try EmbeddedSupport.written(fixture.client)
        #expect(answered.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"), "\(answered)")
        #expect(answered.contains("Upgrade: websocket\r\n") && answered.contains("Connection: Upgrade\r\n"), "\(answered)")
        #expect(answered.hasSuffix("\r\n\r\norigin-early"), "the origin's bytes behind the 101 follow it: \(answered)")
        #expect(try EmbeddedSupport.written(fixture.upstream) == "client-early", "the client's bytes behind the request go up")

        // From now on bytes, not HTTP, both ways.
        try fixture.client.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n"))
        #expect(try EmbeddedSupport.written(fixture.upstream) == "GET / HTTP/1.1\r\n\r\n")
        try fixture.upstream.writeInbound(ByteBuffer(string: "\u{81}\u{05}hello"))
        #expect(try EmbeddedSupport.written(fixture.client) == "\u{81}\u{05}hello")
        #expect(try fixture.client.readInbound(as: ByteBuffer.self) == nil, "nothing goes past the relay")
        #expect((try? fixture.client.pipeline.syncOperations.handler(type: HTTPResponseEncoder.self)) == nil)
        #expect((try? fixture.client.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)) == nil)
        #expect((try? fixture.upstream.pipeline.syncOperations.handler(type: UpstreamExchangeHandler.self)) == nil)
        #expect((try? fixture.upstream.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPResponseDecoder>.self)) == nil)
        #expect(fixture.sink.failures.isEmpty)

        try fixture.client.close().wait()
        fixture.loop.run()
        #expect(!fixture.upstream.isActive, "the client's close closes the origin's connection")
        #expect(fixture.ended?.up == "client-early".utf8.count + 18)
        #expect(fixture.ended?.down == "origin-early".utf8.count + "\u{81}\u{05}hello".utf8.count)
    }

    @Test func theOriginClosingMidTunnelClosesTheClient() throws {
        let fixture = try UpgradeFixture()
        _ = try fixture.clientAsks(upgradeRequest)
        _ = try EmbeddedSupport.written(fixture.upstream)
        try fixture.upstream.writeInbound(ByteBuffer(string: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"))
        fixture.loop.run()
        try fixture.upstream.writeInbound(ByteBuffer(string: "last words"))
        try fixture.upstream.close().wait()
        fixture.loop.run()
        #expect(try EmbeddedSupport.written(fixture.client).hasSuffix("\r\n\r\nlast words"), "what came before the close still goes out")
        #expect(!fixture.client.isActive)
        #expect(fixture.ended?.down == 10)
    }

    @Test func theClientClosingBeforeTheDecodersAreGoneStillClosesTheOrigin() throws {
        let fixture = try UpgradeFixture()
        _ = try fixture.clientAsks(upgradeRequest)
        try fixture.upstream.writeInbound(ByteBuffer(string: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"))
        // The client goes away in the same turn of the loop, while the relays still hold.
        try fixture.client.close().wait()
        fixture.loop.run()
        #expect(!fixture.upstream.isActive)
        #expect(fixture.ended != nil)
    }

    /// The origin sends a frame right behind its 101 and closes (`sendall(101 + frame); close()`):
    /// one read brings the lot, the end of input before NIO removes the decoder. The decoder
    /// used to drop the frame on that end of input: the client got the 101, then the close.
    @Test func theOriginsBytesBehindIts101AndItsEndInTheSameReadReachTheClientInOrder() throws {
        let fixture = try UpgradeFixture()
        let clientWire = try fixture.record(fixture.client)
        _ = try fixture.clientAsks(upgradeRequest)
        _ = try EmbeddedSupport.written(fixture.upstream)

        try fixture.upstream.writeInbound(ByteBuffer(
            string: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\u{81}\u{05}hello"
        ))
        fixture.upstream.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        fixture.loop.run()
        #expect(
            clientWire.transcript.hasSuffix("\r\n\r\n\u{81}\u{05}hello[close output]"),
            "the frame, then the half-close: \(clientWire.transcript)"
        )
        #expect(fixture.upstream.isActive, "the client may still send")
        try fixture.client.writeInbound(ByteBuffer(string: "\u{88}\u{00}"))
        #expect(try EmbeddedSupport.written(fixture.upstream) == "\u{88}\u{00}")
        #expect(fixture.ended == nil)
    }

    /// The client sends its upgrade request and a frame, then half-closes (`shutdown(SHUT_WR)`),
    /// all before the origin's 101. The decoder used to drop the frame on that end of input, and
    /// the end itself never reached the origin (the tunnel would hang until the origin closed).
    @Test func theClientsEarlyBytesAndItsHalfCloseBeforeThe101ReachTheOriginInOrder() throws {
        let fixture = try UpgradeFixture()
        let upstreamWire = try fixture.record(fixture.upstream)
        _ = try fixture.clientAsks(upgradeRequest + "client-early")
        fixture.client.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        let sent = try EmbeddedSupport.written(fixture.upstream)
        #expect(!sent.contains("client-early") && !upstreamWire.transcript.contains("[close"), "nothing but the request before the 101")

        try fixture.upstream.writeInbound(ByteBuffer(string: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"))
        fixture.loop.run()
        #expect(upstreamWire.transcript.hasSuffix("\r\n\r\nclient-early[close output]"), "the frame, then the half-close: \(upstreamWire.transcript)")
        #expect(try EmbeddedSupport.written(fixture.upstream) == "client-early")
        // The other direction goes on until the origin ends it.
        try fixture.upstream.writeInbound(ByteBuffer(string: "bye"))
        #expect(try EmbeddedSupport.written(fixture.client).hasSuffix("\r\n\r\nbye"))
        try fixture.upstream.close().wait()
        fixture.loop.run()
        #expect(!fixture.client.isActive)
        #expect(fixture.ended?.up == "client-early".utf8.count)
    }

    /// While the decoder is stopped (until the origin answers), the client's bytes are not read:
    /// they would only pile up in the stopped decoder. The read goes out once the codec restarted.
    @Test func theClientIsNotReadWhileTheDecoderIsStopped() throws {
        let fixture = try UpgradeFixture()
        let clientWire = try fixture.record(fixture.client)
        _ = try fixture.clientAsks(upgradeRequest)
        let reads = clientWire.reads
        fixture.client.read()
        #expect(clientWire.reads == reads)
        try fixture.client.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .badRequest)))
        try fixture.client.writeOutbound(HTTPServerResponsePart.end(nil))
        HTTPServerCodec.restart(fixture.client)
        fixture.loop.run()
        #expect(clientWire.reads == reads + 1, "the read that waited")
        fixture.client.read()
        #expect(clientWire.reads == reads + 2)
    }

    @Test func anyOtherAnswerIsAResponseAndARestartedCodecParsesTheNextRequest() throws {
        let fixture = try UpgradeFixture()
        let next = "GET /next HTTP/1.1\r\nHost: ws.example\r\n\r\n"
        _ = try fixture.clientAsks(upgradeRequest + next)
        #expect(try fixture.client.readInbound(as: HTTPServerRequestPart.self) == nil, "the decoder stops after an upgrade request")

        try fixture.upstream.writeInbound(ByteBuffer(string: "HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\nno"))
        #expect(fixture.sink.heads.map(\.status) == [.badRequest])
        #expect(fixture.sink.body == "no" && fixture.sink.ends == 1)
        #expect(fixture.ended == nil, "no tunnel")

        // The gate, once the response is out, restarts the codec.
        try fixture.client.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .badRequest)))
        try fixture.client.writeOutbound(HTTPServerResponsePart.end(nil))
        HTTPServerCodec.restart(fixture.client)
        fixture.loop.run()
        guard case .head(let head) = try fixture.client.readInbound(as: HTTPServerRequestPart.self) else {
            Issue.record("the request behind the declined upgrade was not parsed")
            return
        }
        #expect(head.uri == "/next")
        #expect(try fixture.client.readInbound(as: HTTPServerRequestPart.self) == .end(nil))
        try fixture.client.writeInbound(ByteBuffer(string: "GET /third HTTP/1.1\r\nHost: ws.example\r\n\r\n"))
        guard case .head(let third) = try fixture.client.readInbound(as: HTTPServerRequestPart.self) else {
            Issue.record("the fresh codec does not parse new bytes")
            return
        }
        #expect(third.uri == "/third")
    }

    @Test func aResponseToHEADAfterARestartStillCarriesNoBody() throws {
        let fixture = try UpgradeFixture()
        _ = try fixture.clientAsks(upgradeRequest + "HEAD /h HTTP/1.1\r\nHost: ws.example\r\n\r\n")
        try fixture.client.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .badRequest)))
        try fixture.client.writeOutbound(HTTPServerResponsePart.end(nil))
        HTTPServerCodec.restart(fixture.client)
        fixture.loop.run()
        _ = try EmbeddedSupport.written(fixture.client)
        #expect(try fixture.client.readInbound(as: HTTPServerRequestPart.self) != nil)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Length", value: "4")
        try fixture.client.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers)))
        // The fresh encoder knows the request was a HEAD (it is paired with the fresh decoder).
        #expect(throws: NIOHTTPResponseEncoderError.responseBodyNotAllowed) {
            try fixture.client.writeOutbound(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: "body"))))
        }
        #expect(!(try EmbeddedSupport.written(fixture.client)).contains("body"))
    }

    @Test func whichHeadsStopTheDecoderAndWhichAskForATunnel() {
        var upgrade = HTTPHeaders()
        upgrade.add(name: "Connection", value: "keep-alive, Upgrade")
        upgrade.add(name: "Upgrade", value: "websocket")
        #expect(UpgradeRequest(head: HTTPRequestHead(version: .http1_1, method: .GET, uri: "/", headers: upgrade))?.protocols == "websocket")
        #expect(HTTPServerCodec.stopsParsing(after: HTTPRequestHead(version: .http1_1, method: .GET, uri: "/", headers: upgrade)))
        var offered = HTTPHeaders()
        offered.add(name: "Upgrade", value: "websocket")
        #expect(UpgradeRequest(head: HTTPRequestHead(version: .http1_1, method: .GET, uri: "/", headers: offered)) == nil)
        #expect(!HTTPServerCodec.stopsParsing(after: HTTPRequestHead(version: .http1_1, method: .GET, uri: "/", headers: offered)))
        #expect(HTTPServerCodec.stopsParsing(after: HTTPRequestHead(version: .http1_1, method: .CONNECT, uri: "a:443", headers: [:])))
    }
}
