import EgressLinux
import NIOCore

/// How redirected connections reach the proxy, which decides how their original destination is
/// found.
package enum CaptureMode: String, Sendable, Codable {
    /// iptables `REDIRECT`: the kernel remembers the destination (`SO_ORIGINAL_DST`,
    /// `IP6T_SO_ORIGINAL_DST`).
    case redirect
    /// iptables `TPROXY`: the connection's local address is the destination (`IP_TRANSPARENT`).
    case tproxy

    /// Where the client that `channel` serves meant to go (an IPv4 client of a dual-stack
    /// listener is given as IPv4).
    func originalDestination(of channel: any Channel) -> EventLoopFuture<IPEndpoint> {
        switch self {
        case .redirect:
            return OriginalDestination.of(channel: channel)
        case .tproxy:
            guard let local = channel.localAddress.flatMap(IPEndpoint.init) else {
                return channel.eventLoop.makeFailedFuture(UpstreamError("the connection has no local IP address"))
            }
            return channel.eventLoop.makeSucceededFuture(local)
        }
    }

    /// The socket option a listener needs before it binds to accept connections for addresses
    /// that are not its own, if any.
    func listenerOption(ipv6: Bool) -> ChannelOptions.Types.SocketOption? {
        self == .tproxy ? SocketOptions.transparentChannelOption(ipv6: ipv6) : nil
    }
}
