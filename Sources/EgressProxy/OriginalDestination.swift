import EgressRules
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// How redirected connections reach the proxy, which decides how their original destination is
/// found.
package enum CaptureMode: String, Sendable, Codable {
    /// iptables `REDIRECT`: the kernel remembers the destination (`SO_ORIGINAL_DST`,
    /// `IP6T_SO_ORIGINAL_DST`).
    case redirect
    /// iptables `TPROXY`: the connection's local address is the destination (`IP_TRANSPARENT`).
    case tproxy
}

/// Finds where a redirected client meant to go.
enum OriginalDestination {
    /// `SO_ORIGINAL_DST` and `IP6T_SO_ORIGINAL_DST` share the number 80 (linux/netfilter_ipv4.h).
    private static let originalDestinationOption: CInt = 80

    static func lookup(_ channel: any Channel, mode: CaptureMode) -> EventLoopFuture<Destination> {
        guard let local = channel.localAddress else {
            return channel.eventLoop.makeFailedFuture(UpstreamError("the connection has no local address"))
        }
        if mode == .tproxy {
            return channel.eventLoop.makeCompletedFuture { try destination(of: local) }
        }
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(UpstreamError("the channel is not a socket"))
        }
        switch local {
        case .v4:
            return ipv4Destination(provider)
        case .v6 where isIPv4Mapped(local):
            // An IPv4 connection that a dual-stack IPv6 listener accepted: the IPv4 option.
            return ipv4Destination(provider)
        case .v6:
            let future: EventLoopFuture<sockaddr_in6> = provider.unsafeGetSocketOption(
                level: .init(rawValue: CInt(SOL_IPV6)), name: .init(rawValue: originalDestinationOption)
            )
            return future.flatMapThrowing { try destination(of: SocketAddress($0, host: "")) }
        case .unixDomainSocket:
            return channel.eventLoop.makeFailedFuture(UpstreamError("a Unix socket has no original destination"))
        }
    }

    /// The `Destination` of an IP socket address.
    private static func ipv4Destination(_ provider: any SocketOptionProvider) -> EventLoopFuture<Destination> {
        let future: EventLoopFuture<sockaddr_in> = provider.unsafeGetSocketOption(
            level: .init(rawValue: CInt(SOL_IP)), name: .init(rawValue: originalDestinationOption)
        )
        return future.flatMapThrowing { try destination(of: SocketAddress($0, host: "")) }
    }

    /// Whether `address` is an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`).
    private static func isIPv4Mapped(_ address: SocketAddress) -> Bool {
        guard case .v6(let v6) = address else { return false }
        return withUnsafeBytes(of: v6.address.sin6_addr) { bytes in
            bytes.prefix(10).allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF
        }
    }

    static func destination(of address: SocketAddress) throws -> Destination {
        let ip: IPAddress?
        switch address {
        case .v4(let v4):
            ip = withUnsafeBytes(of: v4.address.sin_addr) { IPAddress(networkBytes: $0) }
        case .v6(let v6):
            ip = withUnsafeBytes(of: v6.address.sin6_addr) { IPAddress(networkBytes: $0) }
        case .unixDomainSocket:
            ip = nil
        }
        guard let ip, let port = address.port, let port16 = UInt16(exactly: port) else {
            throw UpstreamError("not an IP address: \(address)")
        }
        return Destination(address: ip, port: port16)
    }
}
