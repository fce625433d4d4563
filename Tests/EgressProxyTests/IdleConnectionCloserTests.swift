@testable import EgressProxy
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// Idle connections close after the timeout (on the embedded loop's clock); activity and
/// requests in flight keep them open.
@Suite struct IdleConnectionCloserTests {
    private let timeout = TimeAmount.seconds(60)

    private func connectedChannel() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(handler: IdleConnectionCloser(timeout: timeout))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    private func request(_ channel: EmbeddedChannel) throws {
        try channel.writeInbound(HTTPServerRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/")))
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
    }

    private func respond(_ channel: EmbeddedChannel) throws {
        try channel.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok)))
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))
    }

    @Test func anIdleConnectionWithoutARequestIsClosedAfterTheTimeout() throws {
        let channel = try connectedChannel()
        channel.embeddedEventLoop.advanceTime(by: .seconds(59))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(!channel.isActive)
    }

    @Test func activityPushesTheDeadlineBack() throws {
        let channel = try connectedChannel()
        channel.embeddedEventLoop.advanceTime(by: .seconds(50))
        try request(channel)
        try respond(channel)
        channel.embeddedEventLoop.advanceTime(by: .seconds(50))
        #expect(channel.isActive, "50 s since the last response")
        channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        #expect(!channel.isActive)
    }

    @Test func aRequestInFlightKeepsItOpenUntilItsResponseEnds() throws {
        let channel = try connectedChannel()
        try request(channel)
        channel.embeddedEventLoop.advanceTime(by: .minutes(10))
        #expect(channel.isActive, "a slow handler is not idleness")
        try respond(channel)
        channel.embeddedEventLoop.advanceTime(by: .seconds(59))
        #expect(channel.isActive)
        channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(!channel.isActive)
    }

    @Test func aRemovedCloserLeavesNoTimerBehind() throws {
        let channel = try connectedChannel()
        weak var closer: IdleConnectionCloser?
        do {
            let handler = try channel.pipeline.syncOperations.handler(type: IdleConnectionCloser.self)
            closer = handler
            try channel.pipeline.syncOperations.removeHandler(handler).wait()
        }
        // A timer still pending would hold the closer (a removed handler's close does nothing, so
        // the channel staying open would not show it).
        #expect(closer == nil, "its timer was cancelled")
        channel.embeddedEventLoop.advanceTime(by: .minutes(10))
        #expect(channel.isActive)
    }
}
