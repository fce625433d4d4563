import EgressLinux
import Logging
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Serves redirected connections: for each accepted connection it finds the original
/// destination, sniffs the protocol and hands the connection on (see ``ConnectionHandoff``).
package final class ProxyServer: Sendable {
    package let services: ProxyServices
    private let group: any EventLoopGroup
    private let listeners = Mutex<[any Channel]>([])
    private let connections = Mutex<[UInt64: any Channel]>([:])
    private let nextConnectionID = Atomic<UInt64>(1)

    /// The most client connections open at once; more are closed as they arrive (nil: no limit).
    private let connectionLimit: Int?

    package init(services: ProxyServices, group: any EventLoopGroup, connectionLimit: Int? = nil) {
        self.services = services
        self.group = group
        self.connectionLimit = connectionLimit
    }

    /// Listens on `address` (port 0 picks a free port) and returns the address bound.
    @discardableResult
    package func listen(on address: SocketAddress, mode: CaptureMode) async throws -> SocketAddress {
        var bootstrap = serverBootstrap(mode: mode)
        if let transparent = mode.listenerOption(ipv6: address.protocol == .inet6) {
            bootstrap = bootstrap.serverChannelOption(transparent, value: 1)
        }
        let channel = try await bootstrap.bind(to: address).get()
        return try track(channel)
    }

    /// Serves a listening socket made elsewhere (for example inside a container's network
    /// namespace); the server takes ownership of it.
    @discardableResult
    package func listen(boundSocket: NIOBSDSocket.Handle, mode: CaptureMode) async throws -> SocketAddress {
        let channel = try await serverBootstrap(mode: mode).withBoundSocket(boundSocket).get()
        return try track(channel)
    }

    /// Stops accepting; open connections finish on their own.
    package func closeListeners() async {
        let channels = listeners.withLock { listeners in
            defer { listeners.removeAll() }
            return listeners
        }
        for channel in channels {
            try? await channel.close()
        }
    }

    /// How many client connections are open.
    package var openConnections: Int {
        connections.withLock { $0.count }
    }

    /// Stops accepting, gives open connections up to `grace` to finish, then closes the rest.
    package func drain(grace: Duration) async {
        await closeListeners()
        let deadline = ContinuousClock.now + grace
        while openConnections > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        let remaining = connections.withLock { Array($0.values) }
        for channel in remaining {
            try? await channel.close()
        }
    }

    private func track(_ channel: any Channel) throws -> SocketAddress {
        listeners.withLock { $0.append(channel) }
        guard let address = channel.localAddress else { throw UpstreamError("the listener has no address") }
        return address
    }

    private func serverBootstrap(mode: CaptureMode) -> ServerBootstrap {
        ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            // A client that half-closes after its request still gets its response.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { [self] channel in
                accept(channel, mode: mode)
            }
    }

    private func accept(_ channel: any Channel, mode: CaptureMode) -> EventLoopFuture<Void> {
        let services = self.services
        let id = nextConnectionID.wrappingAdd(1, ordering: .relaxed).oldValue
        let admitted = connections.withLock { connections in
            if let connectionLimit, connections.count >= connectionLimit { return false }
            connections[id] = channel
            return true
        }
        guard admitted else {
            services.logger.warning("connection refused: too many open connections", metadata: [
                "conn": .stringConvertible(id), "limit": .stringConvertible(connectionLimit ?? 0),
            ])
            return channel.close()
        }
        channel.closeFuture.whenComplete { [self] _ in
            _ = connections.withLock { $0.removeValue(forKey: id) }
        }
        return mode.originalDestination(of: channel).flatMapThrowing { destination in
            let source = channel.remoteAddress.flatMap(IPEndpoint.init)?.description ?? "?"
            var logger = services.logger
            logger[metadataKey: "conn"] = .stringConvertible(id)
            logger[metadataKey: "src"] = .string(source)
            logger[metadataKey: "dst"] = .string(destination.description)
            let handoff = ConnectionHandoff(
                services: services,
                connection: ConnectionContext(
                    source: source, destination: destination, scheme: "http", logger: logger, eventLoop: channel.eventLoop
                )
            )
            try channel.pipeline.syncOperations.addHandler(ConnectionSniffer(limits: services.limits) { found, context, sniffer in
                handoff.hand(found, context, sniffer)
            })
        }.flatMapErrorThrowing { error in
            // Not redirected (dialled directly), or the kernel has no record: nothing to serve.
            services.logger.warning("connection refused: no original destination", metadata: [
                "conn": .stringConvertible(id), "error": .string("\(error)"),
            ])
            throw error
        }
    }
}
