@testable import EgressProxy
import EgressTesting
import EgressLinux
import EgressRules
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing

/// Stands in for the exchange loop behind a ``RequestGate`` in an `EmbeddedChannel`: records the
/// targets of the requests it is handed and the end of the client's input, in order, and answers
/// (`403`, as for a denied request) when the test says.
private final class LoopStandIn: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    var log: [String] = []
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) { log.append(head.uri) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event { log.append("end of input") }
        context.fireUserInboundEventTriggered(event)
    }

    /// Answers the request it has (its end went by) with an empty `403`.
    func answer() {
        guard let context else { return }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Length", value: "0")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .forbidden, headers: headers))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}

/// An origin that switches protocols: once a request's head has come and `answerAfter` has
/// completed (the test's word that what the client does meanwhile has reached the proxy), it
/// sends the 101 with a frame right behind it and ends its side (`sendall(101 + frame);
/// shutdown(SHUT_WR)`). It records the bytes that come after the head, and says when its input
/// ends (which, its output being shut, closes the connection).
private final class SwitchingOrigin: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let afterHead = Mutex("")
    let ended: EventLoopPromise<Void>
    private let answerAfter: EventLoopFuture<Void>
    private let received = Mutex("")

    init(ended: EventLoopPromise<Void>, answerAfter: EventLoopFuture<Void>) {
        self.ended = ended
        self.answerAfter = answerAfter
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let text = String(buffer: unwrapInboundIn(data))
        let headDone = received.withLock { received in
            let before = received.contains("\r\n\r\n")
            received += text
            if before { afterHead.withLock { $0 += text } }
            return !before && received.contains("\r\n\r\n")
        }
        guard headDone else { return }
        let channel = context.channel
        answerAfter.hop(to: context.eventLoop).whenSuccess {
            let answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nframe"
            channel.writeAndFlush(ByteBuffer(string: answer)).whenComplete { _ in channel.close(mode: .output, promise: nil) }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event { ended.succeed() }
        context.fireUserInboundEventTriggered(event)
    }

    /// The end of input of a connection whose output is already shut closes it altogether.
    func channelInactive(context: ChannelHandlerContext) {
        ended.succeed()
        context.fireChannelInactive()
    }
}

/// Declines upgrades (`400`, once `answerAfter` has completed) and answers other requests `200`
/// with their target as the body.
private final class DecliningOrigin: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let answerAfter: EventLoopFuture<Void>

    init(answerAfter: EventLoopFuture<Void>) {
        self.answerAfter = answerAfter
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let text = String(buffer: unwrapInboundIn(data))
        let channel = context.channel
        for block in text.components(separatedBy: "\r\n\r\n") where block.hasPrefix("GET ") {
            let uri = String(block.split(separator: " ")[1])
            let answer = block.lowercased().contains("upgrade: websocket")
                ? "HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\nno"
                : "HTTP/1.1 200 OK\r\nContent-Length: \(uri.utf8.count)\r\n\r\n\(uri)"
            answerAfter.hop(to: context.eventLoop).whenSuccess { channel.writeAndFlush(ByteBuffer(string: answer), promise: nil) }
        }
    }
}

private func origin(_ handler: some ChannelInboundHandler & Sendable) async throws -> any Channel {
    try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .childChannelOption(.allowRemoteHalfClosure, value: true)
        .childChannelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) } }
        .bind(host: "127.0.0.1", port: 0).get()
}

private let upgradeRequest = "GET /ws HTTP/1.1\r\nHost: ws.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"

/// A client's or an origin's end of input (a half-close) that comes while NIO's HTTP decoder
/// holds bytes past an upgrade request or its 101: the bytes still go on (to the tunnel, or to
/// the restarted codec), and the end of input after them. The decoder used to drop them on
/// the end of input.
@Suite(.timeLimit(.minutes(1))) struct UpgradeEndOfInputTests {
    /// `printf 'GET /ws ...Upgrade...\r\n\r\nGET /next ...\r\n\r\n' | nc -N proxy 80`, the upgrade
    /// not tunnelled (here denied, answered by the exchange loop): `/next` is still answered, and
    /// the end of input reaches the loop after it.
    @Test func aRequestPipelinedBehindAnUpgradeThatIsNotTunnelledIsServedDespiteTheHalfClose() throws {
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(loop: loop)
        defer { _ = try? channel.finish(acceptAlreadyClosed: true) }
        try channel.connect(to: SocketAddress(ipAddress: "198.51.100.7", port: 80)).wait()
        let connection = ConnectionContext(
            source: "192.0.2.1:4000", destination: IPEndpoint(address: try #require(IPAddress("198.51.100.7")), port: 80), scheme: "http",
            logger: Logger(label: "egress.test"), eventLoop: loop
        )
        let services = ProxyServices(rules: InterceptionRules(internet: false), upstream: UpstreamClient(group: MultiThreadedEventLoopGroup.singleton))
        let standIn = LoopStandIn()
        try HTTPServerCodec.add(to: channel.pipeline.syncOperations)
        try channel.pipeline.syncOperations.addHandler(RequestGate(services: services, connection: connection))
        try channel.pipeline.syncOperations.addHandler(standIn)

        try channel.writeInbound(ByteBuffer(string: upgradeRequest + "GET /next HTTP/1.1\r\nHost: ws.example\r\n\r\n"))
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(standIn.log == ["/ws"], "the end of input waits behind the bytes the stopped decoder holds")
        standIn.answer()
        loop.run()
        #expect(standIn.log == ["/ws", "/next", "end of input"])
        standIn.answer()
        let written = try EmbeddedSupport.written(channel)
        #expect(written.components(separatedBy: "HTTP/1.1 403 Forbidden\r\n").count == 3, "two answers: \(written)")
    }

    /// Both defects end to end, on loopback: the client sends its upgrade request and a frame and
    /// half-closes before the origin answers (the origin waits until the proxy has seen the
    /// client's end); the origin sends the 101 and a frame and half-closes. Each side gets the
    /// other's frame, then the end.
    @Test func earlyBytesAndHalfClosesOnBothSidesOfATunnelGoThroughInOrder() async throws {
        let ended = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: Void.self)
        let clientEnded = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: Void.self)
        defer { clientEnded.succeed() }  // if the proxy never saw it: a promise must not be left behind
        let switching = SwitchingOrigin(ended: ended, answerAfter: clientEnded.futureResult)
        let server = try await origin(switching)
        let port = try #require(server.localAddress?.port)
        try await LoopbackHTTPProxy.with(
            rules: InterceptionRules(internet: true), destinationPort: port, clientInputClosed: clientEnded
        ) { inbound, outbound in
            let received = try await within(.seconds(20), "the 101, the frame and the end") { () async throws -> String in
                try await outbound.write(ByteBuffer(string: upgradeRequest + "early"))
                outbound.finish()
                var text = ""
                for try await chunk in inbound { text += String(buffer: chunk) }
                return text
            }
            #expect(received.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"), "\(received)")
            #expect(received.hasSuffix("\r\n\r\nframe"), "the origin's frame, then the end: \(received)")
            try await within(.seconds(20), "the origin sees the client's end") { try await ended.futureResult.get() }
            #expect(switching.afterHead.withLock { $0 } == "early")
        }
        ended.succeed()
        try? await server.close()
    }

    /// The upgrade declined by the origin, with a request pipelined behind it and the client's
    /// half-close (which the proxy has seen before the origin answers): both are answered.
    @Test func aRequestPipelinedBehindADeclinedUpgradeIsAnsweredDespiteTheHalfClose() async throws {
        let clientEnded = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: Void.self)
        defer { clientEnded.succeed() }  // if the proxy never saw it: a promise must not be left behind
        let server = try await origin(DecliningOrigin(answerAfter: clientEnded.futureResult))
        let port = try #require(server.localAddress?.port)
        try await LoopbackHTTPProxy.with(
            rules: InterceptionRules(internet: true), destinationPort: port, clientInputClosed: clientEnded
        ) { inbound, outbound in
            let answers = try await within(.seconds(20), "two answers, then the end") { () async throws -> [EmbeddedSupport.WireResponse] in
                try await outbound.write(ByteBuffer(string: upgradeRequest + "GET /next HTTP/1.1\r\nHost: ws.example\r\n\r\n"))
                outbound.finish()
                var responses = EmbeddedSupport.ConnectionResponseReader(inbound)
                return try await responses.readToEnd()
            }
            #expect(answers.map(\.status) == [400, 200])
            #expect(answers.last?.body == "/next")
        }
        try? await server.close()
    }
}
