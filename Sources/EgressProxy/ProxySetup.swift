import EgressCertificates
import Foundation
import EgressLinux
import EgressRules
import Logging
import NIOCore

/// Assembles the shared services of a proxy from its settings: the one place where the CA,
/// the leaf cache, the upstream client and the pass-through guard are put together, for
/// ``InterceptionProxy`` and `egressd run` alike.
package enum ProxySetup {
    /// The shared services; `spliceRelay: false` leaves the relay to whoever serves the
    /// connections (a container run makes its own).
    package static func services(
        rules: InterceptionRules, group: any EventLoopGroup, certificateStore: CertificateAuthorityStore,
        upstreamMark: UInt32?, extraRoots: String?, env: [String: String], logger: Logger, spliceRelay: Bool = true
    ) throws -> ProxyServices {
        let authority = try certificateStore.stateDirectory == nil ? certificateStore.load() : certificateStore.loadOrCreate().authority
        let certificates = LeafCertificateCache(minter: try LeafMinter(authority: authority))
        let tls = try InterceptionTLS(certificates: certificates, extraRootsPEMFile: extraRoots)
        var services = ProxyServices(
            rules: rules, upstream: UpstreamClient(group: group, mark: upstreamMark, tls: tls),
            tls: tls, env: env, upstreamMark: upstreamMark, logger: logger
        )
        guard spliceRelay else { return services }
        do {
            services.spliceRelay = try SpliceRelay()
        } catch {
            logger.warning("no splice relay; pass-through copies through user space", metadata: ["error": .string("\(error)")])
        }
        return services
    }

    /// Where the CA comes from: the user's own certificate and key files, or the state directory
    /// (created there on first use).
    package static func certificateStore(
        stateDirectory: String, certificateAuthority: (certificate: String, key: String)?
    ) -> CertificateAuthorityStore {
        guard let certificateAuthority else {
            return CertificateAuthorityStore(stateDirectory: URL(fileURLWithPath: stateDirectory))
        }
        return CertificateAuthorityStore(
            certificateFile: URL(fileURLWithPath: certificateAuthority.certificate),
            keyFile: URL(fileURLWithPath: certificateAuthority.key)
        )
    }

    /// `ADDRESS:PORT`, or `[IPv6]:PORT`, as a socket address.
    package static func socketAddress(_ text: String) throws -> SocketAddress {
        var host = Substring(text)
        guard let colon = host.lastIndex(of: ":"), let port = Int(host[host.index(after: colon)...]), (0...65535).contains(port) else {
            throw UpstreamError("\"\(text)\" is not ADDRESS:PORT (for IPv6, [ADDRESS]:PORT)")
        }
        host = host[..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        do {
            return try SocketAddress(ipAddress: String(host), port: port)
        } catch {
            throw UpstreamError("\"\(text)\" is not ADDRESS:PORT (for IPv6, [ADDRESS]:PORT)")
        }
    }
}
