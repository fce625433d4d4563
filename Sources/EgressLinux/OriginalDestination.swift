import CEgressLinux
import EgressRules
import Glibc
import NIOCore

/// Where a redirected connection was going before iptables sent it to the proxy.
///
/// With `REDIRECT` (or `DNAT`) the kernel rewrote the destination and remembers the original in
/// its connection tracking: ``of(socket:)`` asks for it with `SO_ORIGINAL_DST` (IPv4) or
/// `IP6T_SO_ORIGINAL_DST` (IPv6). With `TPROXY` nothing was rewritten: the accepted socket's
/// local address is the original destination, which ``ofTransparent(socket:)`` reads.
public enum OriginalDestination {
    /// The original destination of an accepted, REDIRECTed connection.
    ///
    /// An IPv6 listener that accepted an IPv4 connection is asked about IPv4, and the answer is
    /// an IPv4 endpoint. Throws ``LinuxError`` with `ENOENT` when the connection was not
    /// redirected.
    public static func of(socket: CInt) throws -> IPEndpoint {
        var endpoint = egress_endpoint()
        try LinuxError.check(egress_original_destination(socket, &endpoint))
        return IPEndpoint(endpoint)
    }

    /// The original destination of a connection accepted by a transparent (TPROXY) listener:
    /// its local address, with an IPv4-mapped address given as IPv4.
    public static func ofTransparent(socket: CInt) throws -> IPEndpoint {
        try IPEndpoint.local(of: socket)
    }

    /// `SO_ORIGINAL_DST` (SOL_IP) and `IP6T_SO_ORIGINAL_DST` (SOL_IPV6) share one value.
    private static let originalDestinationOption: Int32 = 80

    /// The original destination of a REDIRECTed connection that a NIO channel serves, read on
    /// the channel's event loop (NIO does not hand out its descriptors).
    ///
    /// The channel must be a socket channel (one accepted by a `ServerBootstrap`). Fails with
    /// ``LinuxError``: `ENOTSOCK` for any other channel, `ENOENT` when the connection was not
    /// redirected.
    public static func of(channel: any Channel) -> EventLoopFuture<IPEndpoint> {
        guard let provider = channel as? any SocketOptionProvider, let local = channel.localAddress.flatMap(IPEndpoint.init) else {
            return channel.eventLoop.makeFailedFuture(LinuxError(operation: "original destination of a channel", code: ENOTSOCK))
        }
        let isIPv4 = local.address.isIPv4
        let operation = isIPv4 ? "getsockopt(SO_ORIGINAL_DST)" : "getsockopt(IP6T_SO_ORIGINAL_DST)"
        let answer: EventLoopFuture<sockaddr_storage> = provider.unsafeGetSocketOption(
            level: NIOBSDSocket.OptionLevel(rawValue: isIPv4 ? SOL_IP : SOL_IPV6),
            name: NIOBSDSocket.Option(rawValue: originalDestinationOption)
        )
        return answer.flatMapErrorThrowing { error in
            if let error = error as? IOError { throw LinuxError(operation: operation, code: error.errnoCode) }
            throw error
        }.flatMapThrowing { storage in
            try withUnsafeBytes(of: storage) { try IPEndpoint.reading($0) }
        }
    }
}
