import CEgressLinux
import Glibc
import NIOCore

/// Socket options a proxy sets on its upstream and listening sockets.
public enum SocketOptions {
    /// Sets `SO_MARK` (needs `CAP_NET_ADMIN`): the mark that an iptables rule such as
    /// `-m mark --mark 0x1 -j RETURN` matches, to keep the proxy's own upstream connections out of
    /// the redirect.
    public static func setMark(_ mark: UInt32, on socket: CInt) throws {
        try LinuxError.check(egress_set_mark(socket, mark))
    }

    /// The socket's `SO_MARK`.
    public static func mark(of socket: CInt) throws -> UInt32 {
        var mark: UInt32 = 0
        try LinuxError.check(egress_get_mark(socket, &mark))
        return mark
    }

    /// Sets `IP_TRANSPARENT` on an IPv4 socket or `IPV6_TRANSPARENT` on an IPv6 one (which covers
    /// IPv4 on a dual-stack socket too); needs `CAP_NET_ADMIN`. A TPROXY listener needs it before
    /// `bind`, so that it accepts connections for addresses that are not its own.
    public static func setTransparent(_ enabled: Bool, on socket: CInt) throws {
        try LinuxError.check(egress_set_transparent(socket, enabled ? 1 : 0))
    }

    /// Whether `IP_TRANSPARENT` / `IPV6_TRANSPARENT` is set.
    public static func isTransparent(_ socket: CInt) throws -> Bool {
        var enabled: Int32 = 0
        try LinuxError.check(egress_get_transparent(socket, &enabled))
        return enabled != 0
    }

    /// `SO_MARK` as a NIO channel option, for sockets NIO makes (a `ClientBootstrap`'s).
    public static let markChannelOption = ChannelOptions.Types.SocketOption(
        level: .init(rawValue: SOL_SOCKET), name: .init(rawValue: SO_MARK)
    )

    /// `IP_TRANSPARENT` (IPv4) or `IPV6_TRANSPARENT` (IPv6, which covers IPv4 on a dual-stack
    /// socket too) as a NIO channel option, for a listener NIO binds.
    public static func transparentChannelOption(ipv6: Bool) -> ChannelOptions.Types.SocketOption {
        ipv6
            ? .init(level: .init(rawValue: CInt(SOL_IPV6)), name: .init(rawValue: CInt(IPV6_TRANSPARENT)))
            : .init(level: .init(rawValue: CInt(SOL_IP)), name: .init(rawValue: CInt(IP_TRANSPARENT)))
    }
}
