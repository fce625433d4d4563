import CEgressLinux
import EgressRules

/// Sockets made inside another network namespace, without moving the calling thread there.
///
/// Each call runs on a short-lived thread of its own that opens the namespace file, enters it
/// with `setns(CLONE_NEWNET)`, makes the socket and ends; the calling thread, and every other
/// thread of the process, stays where it was. A socket belongs to the namespace it was made in for
/// its whole life, so the proxy can serve a listener inside a container's namespace from its own
/// event loops: `ServerBootstrap(group:).withBoundSocket(fd)`.
///
/// The call blocks for the thread's lifetime (well under a millisecond, except ``connect(inNetworkNamespace:to:port:timeoutMilliseconds:)``,
/// which waits for the connection) and needs `CAP_SYS_ADMIN`: call it off event loops.
public enum NetworkNamespaceSockets {
    /// A listening TCP socket inside the namespace at `path` (`/run/netns/NAME` or
    /// `/proc/PID/ns/net`), bound to `address` and `port`: non-blocking, close-on-exec,
    /// `SO_REUSEADDR`. The caller owns the descriptor.
    ///
    /// - Parameters:
    ///   - transparent: sets `IP_TRANSPARENT` / `IPV6_TRANSPARENT` before binding, for TPROXY.
    ///   - ipv6Only: for an IPv6 address, sets `IPV6_V6ONLY`; otherwise a listener on `::` also
    ///     accepts IPv4 connections (as IPv4-mapped addresses).
    ///   - backlog: the `listen` backlog.
    /// - Throws: ``LinuxError`` naming the step that failed (`open(network namespace)`,
    ///   `setns(CLONE_NEWNET)`, `bind`, ...).
    public static func createListener(
        inNetworkNamespace path: String,
        address: IPAddress,
        port: UInt16,
        transparent: Bool = false,
        ipv6Only: Bool = false,
        backlog: Int32 = 256
    ) throws -> CInt {
        var endpoint = IPEndpoint(address: address, port: port).cValue
        var options = egress_listener_options(backlog: backlog, transparent: transparent ? 1 : 0, ipv6_only: ipv6Only ? 1 : 0)
        var fd: CInt = -1
        try LinuxError.check(egress_listener_in_namespace(path, &endpoint, &options, &fd))
        return fd
    }

    /// An unconnected TCP socket inside the namespace at `path`, of the family that reaches
    /// `address` (IPv4 or IPv6): non-blocking, close-on-exec. Whatever it connects to is reached
    /// through that namespace's interfaces and routes. The caller owns the descriptor.
    public static func createSocket(inNetworkNamespace path: String, reaching address: IPAddress) throws -> CInt {
        var fd: CInt = -1
        try LinuxError.check(egress_socket_in_namespace(path, address.socketFamily, &fd))
        return fd
    }

    /// A UDP socket inside the namespace at `path`, bound to `address` and `port` (IPv6 only for
    /// an IPv6 address): non-blocking, close-on-exec. The caller owns the descriptor.
    public static func createDatagramSocket(inNetworkNamespace path: String, address: IPAddress, port: UInt16) throws -> CInt {
        var endpoint = IPEndpoint(address: address, port: port).cValue
        var fd: CInt = -1
        try LinuxError.check(egress_datagram_socket_in_namespace(path, &endpoint, &fd))
        return fd
    }

    /// A TCP socket inside the namespace at `path`, connected to `address` and `port` as that
    /// namespace routes them (so `127.0.0.1` is the namespace's own loopback): non-blocking,
    /// close-on-exec. Fails with `ETIMEDOUT` after `timeoutMilliseconds`. The caller owns the
    /// descriptor.
    public static func connect(
        inNetworkNamespace path: String, to address: IPAddress, port: UInt16, timeoutMilliseconds: Int32 = 5_000
    ) throws -> CInt {
        var endpoint = IPEndpoint(address: address, port: port).cValue
        var fd: CInt = -1
        try LinuxError.check(egress_connected_socket_in_namespace(path, &endpoint, timeoutMilliseconds, &fd))
        return fd
    }
}
