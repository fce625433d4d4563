@testable import EgressProxy
import NIOCore
import NIOEmbedded
import NIOPosix
import Testing
import Workers

/// An origin that answers one request per connection with keep-alive, then closes the
/// connection a moment later, as origins with a short keep-alive timeout do.
private final class AnswerThenClose: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard String(buffer: unwrapInboundIn(data)).contains("\r\n\r\n") else { return }
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")), promise: nil)
        let channel = context.channel
        channel.eventLoop.scheduleTask(in: .milliseconds(50)) { channel.close(promise: nil) }
    }
}

@Suite struct UpstreamReuseTests {
    @Test func aKeptAliveConnectionTheOriginClosedIsNotReused() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let origin = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(AnswerThenClose()) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(origin.localAddress?.port)
        let client = UpstreamClient(group: group)
        let target = UpstreamTarget(host: "127.0.0.1", port: port)
        for round in 0..<3 {
            let request = try #require(Request(url: "http://127.0.0.1:\(port)/\(round)"))
            let response = try await client.send(request, to: target)
            #expect(response.status == .ok, "round \(round)")
            #expect(String(buffer: try await response.body.collect(upTo: 100)) == "ok")
            try await Task.sleep(for: .milliseconds(200))  // the origin closes the idle connection
        }
        try await origin.close()
    }

    @Test func aClientThatClosesWithoutSendingIsNotPassedThrough() throws {
        var verdicts = 0
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ConnectionSniffer(limits: ProxyLimits()) { _, _, _ in verdicts += 1 })
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(!channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(5))
        #expect(verdicts == 0)
    }
}
