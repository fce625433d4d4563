@testable import EgressProxy
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@Suite struct IdleConnectionCloserTests {
    private let idle = IdleStateHandler.IdleStateEvent.all

    @Test func anIdleConnectionWithoutARequestIsClosed() throws {
        let channel = EmbeddedChannel(handler: IdleConnectionCloser())
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        channel.pipeline.fireUserInboundEventTriggered(idle)
        #expect(!channel.isActive)
    }

    @Test func aRequestInFlightKeepsItOpenUntilItsResponseEnds() throws {
        let channel = EmbeddedChannel(handler: IdleConnectionCloser())
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.writeInbound(HTTPServerRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/")))
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        channel.pipeline.fireUserInboundEventTriggered(idle)
        #expect(channel.isActive, "a slow handler is not idleness")
        try channel.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok)))
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))
        channel.pipeline.fireUserInboundEventTriggered(idle)
        #expect(!channel.isActive)
    }

    @Test func otherEventsPassThrough() throws {
        let channel = EmbeddedChannel(handler: IdleConnectionCloser())
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        channel.pipeline.fireUserInboundEventTriggered(IdleStateHandler.IdleStateEvent.read)
        #expect(channel.isActive)
    }
}
