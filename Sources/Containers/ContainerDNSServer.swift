import Logging
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// A container's DNS stub resolver: serves UDP sockets that were bound elsewhere (on 127.0.0.1:53
/// and [::1]:53 inside the container's network namespace) from the proxy's event loops, answering
/// by a ``ContainerDNSPolicy`` (see there for what is answered) with a ``HostNameResolver``.
///
/// Each socket is served by its own channel on one loop of the group; queries on it are answered
/// concurrently, at most ``DNSQueryHandler/defaultMaxInFlight`` at a time (see
/// ``DNSQueryHandler``).
package final class ContainerDNSServer: Sendable {
    private let channels: [any Channel]

    private init(channels: [any Channel]) {
        self.channels = channels
    }

    /// The addresses the served sockets are bound to, in the order given.
    package var localAddresses: [SocketAddress] {
        channels.compactMap(\.localAddress)
    }

    /// Starts serving `boundSockets`: bound, non-blocking UDP sockets of which the server takes
    /// ownership. It closes them on ``close()``, and when starting fails, closes the ones it has
    /// already served and the ones it has not reached (NIO owns and closes the one that failed).
    package static func start(
        group: any EventLoopGroup,
        boundSockets: [CInt],
        policy: ContainerDNSPolicy,
        resolver: any HostNameResolver,
        logger: Logger
    ) async throws -> ContainerDNSServer {
        let bootstrap = DatagramBootstrap(group: group).channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(DNSQueryHandler(policy: policy, resolver: resolver, logger: logger))
            }
        }
        var channels: [any Channel] = []
        for (index, socket) in boundSockets.enumerated() {
            do {
                // NIO traps on a negative descriptor instead of throwing.
                guard socket >= 0 else { throw ContainerError.system("the DNS socket descriptor \(socket) is invalid") }
                channels.append(try await bootstrap.withBoundSocket(socket).get())
            } catch {
                for channel in channels { try? await channel.close() }
                for unserved in boundSockets[(index + 1)...] where unserved >= 0 { Glibc.close(unserved) }
                throw error
            }
        }
        logger.debug("DNS stub serving", metadata: ["addresses": "\(channels.compactMap(\.localAddress))"])
        return ContainerDNSServer(channels: channels)
    }

    /// Stops serving and closes the sockets; answers still being resolved are dropped.
    package func close() async {
        for channel in channels {
            try? await channel.close()
        }
    }
}
