import NIOCore
import NIOPosix
import Synchronization

/// A TCP server on 127.0.0.1 (an ephemeral port) for tests that need real sockets (an embedded
/// channel cannot half-close): its connections allow remote half-closure, each gets the handlers
/// `handlers` makes, and ``firstConnectionClosed`` tells when one of them has first closed.
public struct LoopbackServer: Sendable {
    /// The listening channel; close it when done.
    public let channel: any Channel
    /// The port it listens on.
    public let port: Int
    /// Completes when a connection has closed, the first to close (tests that use it accept one).
    public let firstConnectionClosed: EventLoopFuture<Void>

    /// Listens on `group`; `handlers` runs on a new connection's event loop.
    public static func start(
        group: any EventLoopGroup, handlers: @escaping @Sendable () throws -> [any ChannelHandler]
    ) async throws -> LoopbackServer {
        let closed = group.next().makePromise(of: Void.self)
        let channel = try await ServerBootstrap(group: group)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.closeFuture.cascade(to: closed)
                return channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandlers(handlers()) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        guard let port = channel.localAddress?.port else {
            try? await channel.close()
            throw TestSupportError("the loopback server has no port")
        }
        return LoopbackServer(channel: channel, port: port, firstConnectionClosed: closed.futureResult)
    }

    /// A client connection to 127.0.0.1:`port` that allows remote half-closure, with the handlers
    /// `handlers` makes (on its event loop).
    public static func connect(
        port: Int, group: any EventLoopGroup, handlers: @escaping @Sendable () throws -> [any ChannelHandler]
    ) async throws -> any Channel {
        try await ClientBootstrap(group: group)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandlers(handlers()) }
            }
            .connect(host: "127.0.0.1", port: port).get()
    }
}

/// The end of a test connection's pipeline: collects what it reads until its input ends
/// (``inputEnded`` gets all of it), or fails on an error or a close before that.
public final class InputCollector: ChannelInboundHandler, Sendable {
    public typealias InboundIn = ByteBuffer

    /// Everything read, once the input has ended.
    public let inputEnded: EventLoopFuture<ByteBuffer>
    private let promise: EventLoopPromise<ByteBuffer>
    private let received = Mutex(ByteBuffer())

    /// A collector whose future belongs to `eventLoop`.
    public init(eventLoop: any EventLoop) {
        promise = eventLoop.makePromise()
        inputEnded = promise.futureResult
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        received.withLock { _ = $0.writeBuffer(&chunk) }
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .some(.inputClosed) = event as? ChannelEvent { promise.succeed(received.withLock { $0 }) }
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        promise.fail(ChannelError.eof)
    }
}
