@testable import EgressProxy
import NIOCore
import NIOEmbedded
import NIOPosix
import Synchronization
import Testing
import Workers

/// An origin that answers every request with keep-alive and closes its connections when the test
/// says (as an origin whose keep-alive timeout ran out); counts the connections it accepted.
private final class KeepAliveOrigin: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let open = Mutex<[any Channel]>([])
    private let count = Mutex(0)

    /// How many connections it accepted.
    var accepted: Int { count.withLock { $0 } }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        open.withLock { $0.append(channel) }
        count.withLock { $0 += 1 }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard String(buffer: unwrapInboundIn(data)).contains("\r\n\r\n") else { return }
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")), promise: nil)
    }

    /// Closes every open connection, returning once they are closed.
    func closeAll() async throws {
        for channel in open.withLock({ channels in defer { channels = [] }; return channels }) {
            try await channel.close()
        }
    }
}

@Suite struct UpstreamReuseTests {
    @Test func aKeptAliveConnectionTheOriginClosedIsNotReused() async throws {
        // A client on one event loop: idle connections are pooled per loop, and a request sent
        // from outside any loop takes the group's next, so with more loops a request could miss
        // the connection the test means it to find.
        let clientGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let keptAlive = KeepAliveOrigin()
        let origin = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(keptAlive) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(origin.localAddress?.port)
        let client = UpstreamClient(group: clientGroup)
        let target = UpstreamTarget(host: "127.0.0.1", port: port)
        func get(_ path: String) async throws -> String {
            let response = try await client.send(try #require(Request(url: "http://127.0.0.1:\(port)\(path)")), to: target)
            #expect(response.status == .ok, "\(path)")
            return String(buffer: try await response.body.collect(upTo: 100))
        }
        // While the origin keeps it open, the connection is reused.
        #expect(try await get("/0") == "ok")
        #expect(try await get("/1") == "ok")
        #expect(keptAlive.accepted == 1, "the second request went on the first one's connection")
        for round in 2..<4 {
            try await keptAlive.closeAll()  // the origin closes the idle connection
            #expect(try await get("/\(round)") == "ok")
            #expect(keptAlive.accepted == round, "request \(round) went on a new connection")
        }
        try await origin.close()
        try await clientGroup.shutdownGracefully()
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
