import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Resolves names with the host's `getaddrinfo(3)`: `/etc/hosts`, the host's DNS servers and
/// search domains, as the proxy's own namespace sees them.
///
/// `getaddrinfo` blocks, so each lookup runs on a thread pool of this type's own, never on an
/// event loop or Swift's cooperative pool. The pool has ``threadCount`` threads shared by every
/// container: a slow name holds one thread, and lookups beyond that many wait their turn (the DNS
/// server bounds how many are in flight).
///
/// Lookups use `AI_ADDRCONFIG`: IPv6 addresses are returned only when the host has IPv6 configured
/// (and IPv4 likewise). The proxy dials from the host's namespace, so an address family the host
/// cannot reach would give the container a connection that the proxy accepts and then drops,
/// which clients do not fall back from.
package struct SystemHostNameResolver: HostNameResolver {
    /// How many lookups run at once, process-wide.
    static let threadCount = 16

    private static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: threadCount)
        pool.start()
        return pool
    }()

    /// glibc's `EAI_NODATA` ("no address associated with hostname"), which `<netdb.h>` declares
    /// only under `_GNU_SOURCE`, out of Swift's sight.
    private static let noDataStatus: CInt = -5

    /// A resolver on the shared lookup pool.
    package init() {}

    package func addresses(of name: String) async throws(HostNameResolutionError) -> HostAddresses {
        let outcome: Result<HostAddresses, HostNameResolutionError>
        do {
            outcome = try await Self.pool.runIfActive { Self.lookUp(name) }
        } catch {
            throw .failed("the lookup could not run: \(error)")
        }
        return try outcome.get()
    }

    /// One blocking `getaddrinfo` call, addresses deduplicated in the order given.
    private static func lookUp(_ name: String) -> Result<HostAddresses, HostNameResolutionError> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = CInt(SOCK_STREAM.rawValue)  // one entry per address, not one per socket type
        hints.ai_flags = AI_ADDRCONFIG
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(name, nil, &hints, &list)
        defer { if let list { freeaddrinfo(list) } }
        switch status {
        case 0:
            break
        case EAI_NONAME, Self.noDataStatus:
            return .failure(.notFound)
        case EAI_SYSTEM:
            return .failure(.failed("getaddrinfo: \(String(cString: strerror(errno)))"))
        default:
            return .failure(.failed("getaddrinfo: \(String(cString: gai_strerror(status)))"))
        }
        var addresses = HostAddresses()
        var entry = list
        while let current = entry?.pointee {
            entry = current.ai_next
            guard let address = current.ai_addr else { continue }
            switch current.ai_family {
            case AF_INET:
                let value = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt32(bigEndian: $0.pointee.sin_addr.s_addr) }
                if !addresses.ipv4.contains(value) { addresses.ipv4.append(value) }
            case AF_INET6:
                let value = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                    withUnsafeBytes(of: pointer.pointee.sin6_addr) { bytes in bytes.reduce(UInt128(0)) { $0 << 8 | UInt128($1) } }
                }
                if !addresses.ipv6.contains(value) { addresses.ipv6.append(value) }
            default:
                continue
            }
        }
        return addresses.isEmpty ? .failure(.notFound) : .success(addresses)
    }
}
