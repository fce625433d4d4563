import NIOCore
import NIOPosix

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
}
