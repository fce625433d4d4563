@testable import EgressProxy
import EgressTesting
import NIOCore
import NIOEmbedded
import NIOPosix
import Testing

/// Sits between a relay handler and the channel's head: records the `read()`s and
/// `close(mode:)`s the relay asks for. Half-closes stop here, because `EmbeddedChannel` would
/// treat any close as a full one; full closes go on.
private final class OutboundRecorder: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer

    var reads = 0
    var closes: [CloseMode] = []

    func read(context: ChannelHandlerContext) {
        reads += 1
        context.read()
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        closes.append(mode)
        if mode == .all {
            context.close(mode: mode, promise: promise)
        } else {
            promise?.succeed(())
        }
    }
}

/// Two connected `EmbeddedChannel`s on one loop joined by a relay pair, as the pass-through joins
/// a client and its upstream.
private final class RelayedPair {
    let loop = EmbeddedEventLoop()
    let client: EmbeddedChannel
    let upstream: EmbeddedChannel
    let clientRecorder = OutboundRecorder()
    let upstreamRecorder = OutboundRecorder()
    let clientSide: RelayHandler
    let upstreamSide: RelayHandler

    init() throws {
        client = EmbeddedChannel(loop: loop)
        upstream = EmbeddedChannel(loop: loop)
        (clientSide, upstreamSide) = RelayHandler.pair()
        for channel in [client, upstream] {
            channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 4000), promise: nil)
        }
        try client.pipeline.syncOperations.addHandlers([clientRecorder, clientSide])
        try upstream.pipeline.syncOperations.addHandlers([upstreamRecorder, upstreamSide])
    }

    func finish() throws {
        _ = try client.finish(acceptAlreadyClosed: true)
        _ = try upstream.finish(acceptAlreadyClosed: true)
    }

    deinit {
        // Also on a failed test: an open EmbeddedChannel asserts when it goes away.
        _ = try? client.finish(acceptAlreadyClosed: true)
        _ = try? upstream.finish(acceptAlreadyClosed: true)
    }
}

@Suite struct RelayHandlerTests {
    @Test func bytesReadOnOneSideAreWrittenOnTheOtherAndCounted() throws {
        let pair = try RelayedPair()
        try pair.client.writeInbound(ByteBuffer(string: "hello "))
        try pair.client.writeInbound(ByteBuffer(string: "upstream"))
        #expect(try EmbeddedSupport.written(pair.upstream) == "hello upstream")
        #expect(try EmbeddedSupport.written(pair.client) == "", "nothing echoes back")

        try pair.upstream.writeInbound(ByteBuffer(string: "and back"))
        #expect(try EmbeddedSupport.written(pair.client) == "and back")
        #expect(pair.clientSide.bytesRead == 14)
        #expect(pair.upstreamSide.bytesRead == 8)
        #expect(try pair.client.readInbound(as: ByteBuffer.self) == nil, "relayed bytes are consumed, not passed down the pipeline")
        try pair.finish()
    }

    @Test func writesAreFlushedAtTheEndOfEachReadBurst() throws {
        let pair = try RelayedPair()
        pair.client.pipeline.syncOperations.fireChannelRead(NIOAny(ByteBuffer(string: "one ")))
        pair.client.pipeline.syncOperations.fireChannelRead(NIOAny(ByteBuffer(string: "two")))
        #expect(try EmbeddedSupport.written(pair.upstream) == "", "written but not yet flushed")
        pair.client.pipeline.syncOperations.fireChannelReadComplete()
        #expect(try EmbeddedSupport.written(pair.upstream) == "one two")
        try pair.finish()
    }

    @Test func halfCloseOfOneSideClosesTheOutputOfTheOther() throws {
        let pair = try RelayedPair()
        pair.client.pipeline.syncOperations.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(pair.upstreamRecorder.closes == [.output])
        #expect(pair.clientRecorder.closes == [])
        #expect(pair.client.isActive && pair.upstream.isActive, "a half-close closes nothing else")

        // The other direction still flows.
        try pair.upstream.writeInbound(ByteBuffer(string: "response after the request ended"))
        #expect(try EmbeddedSupport.written(pair.client) == "response after the request ended")

        pair.upstream.pipeline.syncOperations.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(pair.clientRecorder.closes == [.output])
        try pair.finish()
    }

    @Test func closingEitherSideClosesBoth() throws {
        let client = try RelayedPair()
        try client.client.close().wait()
        #expect(client.upstreamRecorder.closes.first == .all)
        #expect(!client.upstream.isActive)
        try client.finish()

        let upstream = try RelayedPair()
        try upstream.upstream.close().wait()
        #expect(upstream.clientRecorder.closes.first == .all)
        #expect(!upstream.client.isActive)
        try upstream.finish()
    }

    @Test func readsWaitWhileThePartnerCannotWrite() throws {
        let pair = try RelayedPair()
        pair.client.pipeline.syncOperations.read()
        #expect(pair.clientRecorder.reads == 1, "a writable partner lets reads through")

        pair.upstream.isWritable = false
        pair.upstream.pipeline.syncOperations.fireChannelWritabilityChanged()
        #expect(pair.clientRecorder.reads == 1, "losing writability reads nothing")
        pair.client.pipeline.syncOperations.read()
        pair.client.pipeline.syncOperations.read()
        #expect(pair.clientRecorder.reads == 1, "reads are held while the upstream cannot keep up")
        // The other direction is not held back.
        pair.upstream.pipeline.syncOperations.read()
        #expect(pair.upstreamRecorder.reads == 1)

        pair.upstream.isWritable = true
        pair.upstream.pipeline.syncOperations.fireChannelWritabilityChanged()
        #expect(pair.clientRecorder.reads == 2, "one deferred read resumes once the upstream drains")
        pair.upstream.pipeline.syncOperations.fireChannelWritabilityChanged()
        #expect(pair.clientRecorder.reads == 2, "a resumed read is not repeated")
        #expect(pair.upstreamRecorder.reads == 1)
        try pair.finish()
    }

    /// A client that sends its request and half-closes (`shutdown(SHUT_WR)`, as `nc -N` or a
    /// one-shot protocol does), then reads slowly; the upstream answers and closes. Everything
    /// the upstream sent must reach the client.
    @Test(.timeLimit(.minutes(1)))
    func upstreamDataQueuedForAHalfClosedClientIsDeliveredBeforeTheClose() async throws {
        let total = 60_000  // under the default 64 KiB write-buffer high-water mark: no backpressure involved
        let group = MultiThreadedEventLoopGroup.singleton
        let origin = try await ServerBootstrap(group: group)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(AnswerAtEndOfRequest(bytes: total)) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let originPort = try #require(origin.localAddress?.port)
        let upstreamChannel = group.next().makePromise(of: (any Channel).self)
        // The pass-through's wiring (ConnectionHandoff), with a small kernel send buffer toward
        // the client so that bytes wait in the proxy as they do for any slow reader.
        let proxy = try await ServerBootstrap(group: group)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.socketOption(.so_sndbuf), value: 4096)
            .childChannelInitializer { client in
                ClientBootstrap(group: client.eventLoop)
                    .channelOption(.allowRemoteHalfClosure, value: true)
                    .connect(host: "127.0.0.1", port: originPort)
                    .flatMapThrowing { upstream in
                        let (clientSide, upstreamSide) = RelayHandler.pair()
                        try client.pipeline.syncOperations.addHandler(clientSide)
                        try upstream.pipeline.syncOperations.addHandler(upstreamSide)
                        upstreamChannel.succeed(upstream)
                    }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let received = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: Int.self)
        let client = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.autoRead, value: false)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.socketOption(.so_rcvbuf), value: 4096)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(CountUntilEnd(done: received)) }
            }
            .connect(host: "127.0.0.1", port: try #require(proxy.localAddress?.port)).get()

        try await client.writeAndFlush(ByteBuffer(string: "request"))
        try await client.close(mode: .output)
        // The upstream answered and closed; only now does the client start reading.
        let upstream = try await within(.seconds(20), "the upstream to close") {
            let upstream = try await upstreamChannel.futureResult.get()
            try await upstream.closeFuture.get()
            return upstream
        }
        #expect(!upstream.isActive)
        try await client.setOption(.autoRead, value: true).get()
        let count = try await within(.seconds(20), "the client to read to the end") { try await received.futureResult.get() }
        #expect(count == total, "the client got \(count) of \(total) bytes")
        try? await client.close()
        try? await proxy.close()
        try? await origin.close()
    }
}

/// An origin that reads its request to the end (half-close), then answers `bytes` bytes and closes.
private final class AnswerAtEndOfRequest: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let bytes: Int

    init(bytes: Int) {
        self.bytes = bytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let event = event as? ChannelEvent, case .inputClosed = event else { return }
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(repeating: UInt8(ascii: "x"), count: bytes))).whenComplete { _ in
            loopBound.value.close(promise: nil)
        }
    }
}

/// Counts the bytes a client receives until its input ends.
private final class CountUntilEnd: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let done: EventLoopPromise<Int>
    var count = 0
    var ended = false

    init(done: EventLoopPromise<Int>) {
        self.done = done
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        count += unwrapInboundIn(data).readableBytes
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event { end() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        end()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        end()
        context.close(promise: nil)
    }

    private func end() {
        guard !ended else { return }
        ended = true
        done.succeed(count)
    }
}
