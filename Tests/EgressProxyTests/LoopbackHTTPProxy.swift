import EgressLinux
import EgressRules
import Logging
import NIOCore
import NIOPosix
import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import EgressProxy

/// A whole HTTP connection of the proxy (``RequestGate`` and ``HTTPExchangeLoop``) on loopback,
/// with a raw client: the connection's original destination is `127.0.0.1:destinationPort`, which
/// the proxy may dial. Finishing the client's writer half-closes the connection; with
/// `resetOnClose`, the client's close is a reset. The connection logs to `logger`.
/// `clientInputClosed`, if given, is succeeded when the proxy's side of the connection sees the
/// client's end of input (at the head of its pipeline, before anything of the proxy's).
enum LoopbackHTTPProxy {
    static func with(
        rules: InterceptionRules, destinationPort: Int, responseTimeout: TimeAmount = UpstreamClient.defaultResponseTimeout,
        resetOnClose: Bool = false, logger: Logger = Logger(label: "egress.test"), clientInputClosed: EventLoopPromise<Void>? = nil,
        _ body: (NIOAsyncChannelInboundStream<ByteBuffer>, NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws -> Void
    ) async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let destination = IPEndpoint(address: try #require(IPAddress("127.0.0.1")), port: UInt16(destinationPort))
        // The destination is on loopback, which the guard refuses unless allowed.
        var snapshot = rules.snapshot
        snapshot.destinationGuard = DestinationGuard(allowed: [try #require(IPNetwork("127.0.0.0/8"))])
        rules.replace(with: snapshot)
        let services = ProxyServices(rules: rules, upstream: UpstreamClient(group: group, responseTimeout: responseTimeout))
        let front = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let connection = ConnectionContext(
                        source: "127.0.0.1:1", destination: destination, scheme: "http", logger: logger,
                        eventLoop: channel.eventLoop
                    )
                    if let clientInputClosed { try channel.pipeline.syncOperations.addHandler(InputClosedSignal(clientInputClosed)) }
                    try HTTPExchangeLoop.serve(channel, connection: connection, services: services)
                }
            }
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .bind(host: "127.0.0.1", port: 0).get()
        let client = try await ClientBootstrap(group: group)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .connect(host: "127.0.0.1", port: try #require(front.localAddress?.port)) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                        wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true)
                    )
                }
            }
        if resetOnClose, let socket = client.channel as? any SocketOptionProvider {
            // SO_LINGER 0: closing sends a reset, as a client that crashed or was killed.
            try await socket.setSoLinger(linger(l_onoff: 1, l_linger: 0)).get()
        }
        try await client.executeThenClose { inbound, outbound in try await body(inbound, outbound) }
        try? await front.close()
    }
}

/// Succeeds a promise when the end of the connection's input goes by, and passes it on.
private final class InputClosedSignal: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    private let promise: EventLoopPromise<Void>

    init(_ promise: EventLoopPromise<Void>) {
        self.promise = promise
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event { promise.succeed() }
        context.fireUserInboundEventTriggered(event)
    }
}
