import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Workers

/// The proxy's HTTP/1.1 client: forwards requests to origins and serves handlers' outbound
/// `fetch`, with keep-alive connections pooled per target. Its sockets are created in the
/// proxy's own network namespace and carry the configured `SO_MARK`, so they are never
/// redirected back to the proxy.
package final class UpstreamClient: Sendable {
    private let group: any EventLoopGroup
    private let mark: UInt32?
    private let tls: (any UpstreamTLS)?
    private let idle = Mutex<[UpstreamTarget: [UpstreamConnection]]>([:])
    /// The most idle connections kept per target.
    private let idleLimit = 32

    /// A client on `group`; `mark` is set as `SO_MARK` on every socket; `tls` adds TLS for
    /// `https` targets (without it they fail).
    package init(group: any EventLoopGroup, mark: UInt32? = nil, tls: (any UpstreamTLS)? = nil) {
        self.group = group
        self.mark = mark
        self.tls = tls
    }

    /// Sends `request` to `target` and returns the response once its head arrived.
    package func send(_ request: Request, to target: UpstreamTarget) async throws -> Response {
        if let pooled = takeIdle(for: target) {
            do {
                return try await pooled.send(request)
            } catch is StaleConnection {
                // The origin closed it while it sat idle; the request was not delivered.
            }
        }
        return try await connect(to: target).send(request)
    }

    private func takeIdle(for target: UpstreamTarget) -> UpstreamConnection? {
        idle.withLock { idle in
            while let connection = idle[target]?.popLast() {
                if !connection.isClosed { return connection }
            }
            return nil
        }
    }

    private func release(_ connection: UpstreamConnection) {
        idle.withLock { idle in
            var connections = idle[connection.target, default: []].filter { !$0.isClosed }
            if connections.count < idleLimit { connections.append(connection) }
            idle[connection.target] = connections
        }
    }

    private func connect(to target: UpstreamTarget) async throws -> UpstreamConnection {
        var bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.seconds(10))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
        if let mark {
            bootstrap = bootstrap.channelOption(.socketOption(.init(rawValue: SO_MARK)), value: SocketOptionValue(Int32(bitPattern: mark)))
        }
        let tls = self.tls
        let channel: UpstreamConnection.Channel
        do {
            channel = try await connect(bootstrap, to: target, tls: tls)
        } catch {
            throw UpstreamError("cannot connect to \(target): \(Self.reason(error))")
        }
        return UpstreamConnection(target: target, channel: channel) { [weak self] connection in
            self?.release(connection)
        }
    }

    private func connect(
        _ bootstrap: ClientBootstrap, to target: UpstreamTarget, tls: (any UpstreamTLS)?
    ) async throws -> UpstreamConnection.Channel {
        try await bootstrap.connect(host: target.host, port: target.port) { channel in
            channel.eventLoop.makeCompletedFuture {
                if target.usesTLS {
                    guard let tls else { throw UpstreamError("TLS to \(target) is not configured") }
                    try tls.addClientHandler(to: channel, serverName: target.serverName ?? target.host)
                }
                try channel.pipeline.syncOperations.addHTTPClientHandlers()
                return try UpstreamConnection.Channel(wrappingChannelSynchronously: channel)
            }
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
