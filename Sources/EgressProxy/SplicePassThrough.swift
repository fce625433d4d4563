import EgressLinux
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Moves a pass-through connection pair out of the event loop into the `splice(2)` relay, so its
/// bytes never enter user space: both sockets are taken over (found by `SO_COOKIE` in one scan, duplicated),
/// the NIO channels closed, and the relay sends the bytes the sniffer held first.
enum SplicePassThrough {
    /// Hands `client` and `upstream` to `relay`; on failure nothing was taken over and the caller
    /// relays through NIO instead. Must run on the channels' event loop.
    static func start(
        client: any Channel, upstream: any Channel, held: ByteBuffer?, relay: SpliceRelay,
        completion: @escaping @Sendable (RelayResult) -> Void
    ) -> EventLoopFuture<Void> {
        cookie(of: client).and(cookie(of: upstream)).flatMapThrowing { cookies in
            // One scan of the process's descriptors finds both.
            let (clientSocket, upstreamSocket) = try SocketTakeover.duplicate(cookies.0, cookies.1)
            do {
                try relay.relay(
                    client: clientSocket, upstream: upstreamSocket, initialUpstreamBytes: held.map { Array($0.readableBytesView) } ?? [],
                    completion: completion
                )
            } catch {
                close(clientSocket)
                close(upstreamSocket)
                throw error
            }
            // The relay owns the sockets now; the channels' descriptors go, the connections stay.
            client.close(promise: nil)
            upstream.close(promise: nil)
        }
    }

    private static func cookie(of channel: any Channel) -> EventLoopFuture<UInt64> {
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(UpstreamError("the channel is not a socket"))
        }
        return provider.unsafeGetSocketOption(level: .init(rawValue: SOL_SOCKET), name: .init(rawValue: SocketTakeover.cookieOption))
    }
}
