import CEgressLinux
import EgressRules
import Glibc

/// What sockets need of an ``EgressRules/IPAddress``: its family and its bytes in network order.
/// An IPv4-mapped IPv6 address counts as IPv4 here as everywhere else.
extension IPAddress {
    /// The unspecified IPv4 address, 0.0.0.0.
    public static let anyV4 = IPAddress(ipv4: 0)
    /// The unspecified IPv6 address, `::`.
    public static let anyV6 = IPAddress.v6(0)
    /// 127.0.0.1.
    public static let loopbackV4 = IPAddress(ipv4: 127, 0, 0, 1)
    /// `::1`.
    public static let loopbackV6 = IPAddress.v6(1)

    /// `AF_INET` or `AF_INET6`.
    public var socketFamily: Int32 {
        isIPv4 ? AF_INET : AF_INET6
    }

    /// 4 bytes (IPv4, mapped addresses included) or 16 bytes (IPv6), most significant first, as
    /// in `in_addr` and `in6_addr`.
    public var networkBytes: [UInt8] {
        switch normalized {
        case .v4(let value): withUnsafeBytes(of: value.bigEndian) { Array($0) }
        case .v6(let high, let low): withUnsafeBytes(of: high.bigEndian) { Array($0) } + withUnsafeBytes(of: low.bigEndian) { Array($0) }
        }
    }
}
