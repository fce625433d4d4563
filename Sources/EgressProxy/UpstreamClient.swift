import EgressLinux
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Workers

/// The proxy's HTTP/1.1 client: forwards requests to origins and serves handlers' outbound
/// `fetch`, with keep-alive connections pooled per target and event loop. Its sockets are
/// created in the proxy's own network namespace and carry the configured `SO_MARK`, so they are
/// never redirected back to the proxy.
///
/// A request sent from an event loop's thread (a client connection's task) goes out on a
/// connection of that same loop, so the exchange never leaves the thread.
package final class UpstreamClient: Sendable {
    /// Idle connections are kept per target and per event loop.
    private struct PoolKey: Hashable {
        var target: UpstreamTarget
        var eventLoop: ObjectIdentifier
    }

    private let group: any EventLoopGroup
    private let mark: UInt32?
    private let tls: (any UpstreamTLS)?
    private let idle = Mutex<[PoolKey: IdleConnections]>([:])
    /// The most idle connections kept per target and event loop.
    private let idleLimit = 32

    /// A client on `group`; `mark` is set as `SO_MARK` on every socket; `tls` adds TLS for
    /// `https` targets (without it they fail).
    /// How long an origin may take to start its response once the request has gone out.
    package static let defaultResponseTimeout = TimeAmount.seconds(60)
    private let responseTimeout: TimeAmount

    /// `responseTimeout`: an origin that has not started answering that long after the request
    /// went out fails the exchange (502) and its connection closes.
    package init(
        group: any EventLoopGroup, mark: UInt32? = nil, tls: (any UpstreamTLS)? = nil,
        responseTimeout: TimeAmount = UpstreamClient.defaultResponseTimeout
    ) {
        self.group = group
        self.mark = mark
        self.tls = tls
        self.responseTimeout = responseTimeout
    }

    /// Sends `request` to `target` and returns the response once its head arrived.
    package func send(_ request: Request, to target: UpstreamTarget) async throws -> Response {
        let eventLoop = MultiThreadedEventLoopGroup.currentEventLoop ?? group.next()
        if let pooled = idleConnection(to: target, on: eventLoop) {
            do {
                return try await pooled.send(request)
            } catch is StaleConnection {
                // The origin closed it while it sat idle; the request was not delivered.
            }
        }
        return try await connect(to: target, on: eventLoop).get().send(request)
    }

    /// An idle pooled connection to `target` served by `eventLoop`, if there is one.
    func idleConnection(to target: UpstreamTarget, on eventLoop: any EventLoop) -> UpstreamConnection? {
        takeIdle(for: PoolKey(target: target, eventLoop: ObjectIdentifier(eventLoop)))
    }

    private func takeIdle(for key: PoolKey) -> UpstreamConnection? {
        idle.withLock { idle in
            guard let pool = idle[key] else { return nil }
            while let connection = pool.connections.popLast() {
                if !connection.isClosed { return connection }
            }
            return nil
        }
    }

    private func release(_ connection: UpstreamConnection, to key: PoolKey) {
        idle.withLock { idle in
            let pool: IdleConnections
            if let existing = idle[key] {
                pool = existing
            } else {
                pool = IdleConnections()
                idle[key] = pool
            }
            // Closed ones are skipped when taken; they are swept here only when the pool is full.
            if pool.connections.count >= idleLimit { pool.connections.removeAll { $0.isClosed } }
            if pool.connections.count < idleLimit { pool.connections.append(connection) }
        }
    }

    /// The idle connections of one target and loop, changed in place under the pool's lock (a
    /// dictionary's value changed through its subscript cost allocations per request).
    private final class IdleConnections {
        var connections: [UpstreamConnection] = []
    }

    /// A new connection to `target` served by `eventLoop`; once idle, it goes to the pool, unless
    /// not `pooled` (a connection of its own for an upgrade request: the sender closes it, or it
    /// becomes a tunnel).
    func connect(to target: UpstreamTarget, on eventLoop: any EventLoop, pooled: Bool = true) -> EventLoopFuture<UpstreamConnection> {
        let key = PoolKey(target: target, eventLoop: ObjectIdentifier(eventLoop))
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(.seconds(10))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .marked(mark)
        let tls = self.tls
        let responseTimeout = self.responseTimeout
        return bootstrap.channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                if target.usesTLS {
                    guard let tls else { throw UpstreamError("TLS to \(target) is not configured") }
                    try tls.addClientHandler(to: channel, serverName: target.serverName ?? target.host)
                }
                try UpstreamExchangeHandler.install(on: channel.pipeline.syncOperations, target: target, responseTimeout: responseTimeout)
            }
        }
        .connect(host: target.host, port: target.port)
        .flatMapErrorThrowing { error in
            throw UpstreamError("cannot connect to \(target): \(Self.reason(error))")
        }
        .flatMapThrowing { channel in
            let handler = try channel.pipeline.syncOperations.handler(type: UpstreamExchangeHandler.self)
            var release: (@Sendable (UpstreamConnection) -> Void)?
            if pooled {
                release = { [weak self] connection in self?.release(connection, to: key) }
            }
            return UpstreamConnection(target: target, channel: channel, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop), idle: release)
        }
    }

    /// A connect failure in words: "connection refused", "timed out", the resolver's answer.
    private static func reason(_ error: any Error) -> String {
        let underlying = (error as? NIOConnectionError)?.connectionErrors.first?.error ?? (error as? NIOConnectionError)?.dnsAAAAError ?? error
        if let io = underlying as? IOError {
            switch io.errnoCode {
            case ECONNREFUSED: return "connection refused"
            case ENETUNREACH, EHOSTUNREACH: return "no route to the host"
            case ETIMEDOUT: return "timed out"
            default: return "\(io)"
            }
        }
        if underlying is ChannelError, case .connectTimeout = underlying as? ChannelError { return "timed out" }
        return "\(underlying)"
    }
}

/// Adds a client-side TLS handler to an upstream channel (EgressTLS provides it).
package protocol UpstreamTLS: Sendable {
    /// Adds TLS to `channel`, sending `serverName` as SNI (names only) and verifying the peer's
    /// certificate for it.
    func addClientHandler(to channel: any Channel, serverName: String) throws
}

extension ClientBootstrap {
    /// The bootstrap with `SO_MARK` set to `mark` on its sockets, if there is one (the upstream
    /// sockets of the proxy, which an iptables `-m mark` rule exempts from redirection).
    func marked(_ mark: UInt32?) -> ClientBootstrap {
        guard let mark else { return self }
        return channelOption(SocketOptions.markChannelOption, value: SocketOptionValue(Int32(bitPattern: mark)))
    }
}
