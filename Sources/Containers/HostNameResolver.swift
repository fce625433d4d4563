/// The addresses a host name has, each family on its own, as a DNS answer carries them.
package struct HostAddresses: Sendable, Equatable {
    /// IPv4 addresses, most significant octet first (`10.0.0.1` is `0x0A00_0001`).
    package var ipv4: [UInt32]
    /// IPv6 addresses, most significant byte first (`::1` is `1`).
    package var ipv6: [UInt128]

    /// Addresses of both families; either may be empty.
    package init(ipv4: [UInt32] = [], ipv6: [UInt128] = []) {
        self.ipv4 = ipv4
        self.ipv6 = ipv6
    }

    /// Whether neither family has an address.
    package var isEmpty: Bool { ipv4.isEmpty && ipv6.isEmpty }
}

/// Why a host name has no addresses.
package enum HostNameResolutionError: Error, Sendable, Equatable {
    /// The name does not exist, or exists without addresses (answered NXDOMAIN).
    case notFound
    /// The lookup failed for another reason: no answer, a server failure, a local error
    /// (answered SERVFAIL). The text is for logs.
    case failed(String)
}

/// Looks up the addresses of host names the way the proxy's own host would.
///
/// Called from Swift concurrency, never on an event loop thread: an implementation that blocks
/// (as `getaddrinfo` does) must move that work onto threads of its own.
package protocol HostNameResolver: Sendable {
    /// The addresses of `name`, a fully qualified name in lowercase without a trailing dot.
    ///
    /// Throws ``HostNameResolutionError``: `.notFound` when the name does not exist,
    /// `.failed` for every other failure.
    func addresses(of name: String) async throws(HostNameResolutionError) -> HostAddresses
}
