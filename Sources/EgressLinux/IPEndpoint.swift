import CEgressLinux
import EgressRules
import Glibc
import NIOCore

/// An IP address and a TCP port: where a connection was going, or where a socket is bound.
public struct IPEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// The address; an IPv4-mapped IPv6 address read from a socket is given as IPv4.
    public let address: IPAddress
    /// The port.
    public let port: UInt16

    /// An endpoint of `address` and `port`.
    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }

    /// "203.0.113.10:80" or "[2001:db8::10]:443".
    public var description: String {
        address.isIPv4 ? "\(address):\(port)" : "[\(address)]:\(port)"
    }

    /// The endpoint written as ``description`` writes it (`203.0.113.10:80`,
    /// `[2001:db8::10]:443`), or nil. An IPv6 address needs its brackets: in `::1` the last group
    /// would otherwise pass for a port.
    public init?(parsing text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else { return nil }
        var host = text[..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") {
            host = host.dropFirst().dropLast()
        } else if host.contains(":") {
            return nil
        }
        guard let address = IPAddress(String(host)) else { return nil }
        self.init(address: address, port: port)
    }

    /// The endpoint of a NIO socket address, an IPv4-mapped address given as IPv4; nil for a
    /// Unix socket.
    public init?(_ socketAddress: SocketAddress) {
        let address: IPAddress?
        switch socketAddress {
        case .v4(let v4): address = withUnsafeBytes(of: v4.address.sin_addr) { IPAddress(networkBytes: $0) }
        case .v6(let v6): address = withUnsafeBytes(of: v6.address.sin6_addr) { IPAddress(networkBytes: $0) }
        case .unixDomainSocket: address = nil
        }
        guard let address, let port = socketAddress.port.flatMap(UInt16.init(exactly:)) else { return nil }
        self.init(address: address, port: port)
    }

    /// The socket's local address (`getsockname`).
    public static func local(of socket: CInt) throws -> IPEndpoint {
        var endpoint = egress_endpoint()
        try LinuxError.check(egress_local_endpoint(socket, &endpoint))
        return IPEndpoint(endpoint)
    }

    /// The socket's peer address (`getpeername`).
    public static func peer(of socket: CInt) throws -> IPEndpoint {
        var endpoint = egress_endpoint()
        try LinuxError.check(egress_peer_endpoint(socket, &endpoint))
        return IPEndpoint(endpoint)
    }

    /// The endpoint a C helper filled in.
    init(_ endpoint: egress_endpoint) {
        let bytes = withUnsafeBytes(of: endpoint.address) { Array($0) }
        let address = IPAddress(networkBytes: endpoint.family == AF_INET ? bytes.prefix(4) : bytes[...]) ?? .anyV6
        self.init(address: address, port: endpoint.port)
    }

    /// The endpoint for the C helpers.
    var cValue: egress_endpoint {
        var endpoint = egress_endpoint()
        endpoint.family = address.socketFamily
        endpoint.port = port
        let bytes = address.networkBytes
        withUnsafeMutableBytes(of: &endpoint.address) { raw in
            raw.copyBytes(from: bytes)
        }
        return endpoint
    }

    /// Reads a socket address (`sockaddr_in` or `sockaddr_in6`) from `raw`.
    static func reading(_ raw: UnsafeRawBufferPointer) throws -> IPEndpoint {
        guard let address = raw.baseAddress else { throw LinuxError(operation: "sockaddr", code: EINVAL) }
        var endpoint = egress_endpoint()
        try LinuxError.check(egress_endpoint_from_sockaddr(
            address.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count), &endpoint
        ))
        return IPEndpoint(endpoint)
    }
}
