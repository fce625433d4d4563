import EgressCertificates
import EgressLinux
import EgressRules
import Foundation
import Logging
import NIOCore
import NIOPosix

/// What a proxy is made of, from its settings: the one place where `allow` and the timeouts are
/// checked and the CA, the leaf cache, the upstream client (with its mark), the pass-through
/// guard, the limits and the event loops are put together, for ``InterceptionProxy`` (so
/// `egressd run`) and the container host alike.
package struct ProxySetup {
    /// The event loops, which report their ticks to ``BatchedLogWriter/standardError`` (so the
    /// decision log is written a tick at a time); whoever made the set-up shuts them down.
    package let group: MultiThreadedEventLoopGroup
    /// The shared services: rules without handlers, upstream client, TLS, limits and mark.
    package let services: ProxyServices
    /// The CA certificate (PEM), from the one load of the CA: what clients must trust.
    package let certificatePEM: String

    /// Checks the settings, loads the CA (from `certificateAuthority`'s files, or from
    /// `stateDirectory`, created there on first use), then makes the event loops, last: a set-up
    /// that throws leaves nothing running. Throws ``ProxySettingError`` for an `allow` entry that
    /// is not an address or CIDR range or a timeout that is not positive; a CA or `extraRoots`
    /// that cannot be used throws its own error. `spliceRelay: false` leaves the relay to whoever
    /// serves the connections (a container run makes its own).
    package init(internet: Bool, settings: ProxySettings, logger: Logger, spliceRelay: Bool = true) throws {
        let allowed = try settings.allow.map { text in
            guard let network = IPNetwork(text) else { throw ProxySettingError("allow: \"\(text)\" is not an address or CIDR range") }
            return network
        }
        for (name, timeout) in [("sniffTimeout", settings.sniffTimeout), ("idleTimeout", settings.idleTimeout)] where timeout <= .zero {
            throw ProxySettingError("\(name): \(timeout) is not a positive duration")
        }
        var limits = ProxyLimits()
        limits.sniffTimeout = TimeAmount(settings.sniffTimeout)
        limits.idleTimeout = TimeAmount(settings.idleTimeout)
        let store = Self.certificateStore(stateDirectory: settings.stateDirectory, certificateAuthority: settings.certificateAuthority)
        let authority = try store.stateDirectory == nil ? store.load() : store.loadOrCreate().authority
        certificatePEM = try authority.certificate.pemString()
        let tls = try InterceptionTLS(
            certificates: LeafCertificateCache(minter: try LeafMinter(authority: authority)), extraRootsPEMFile: settings.extraRoots
        )
        // Nothing from here on throws, so the event loops never outlive a failed set-up.
        group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount, metricsDelegate: BatchedLogWriter.standardError)
        var services = ProxyServices(
            rules: InterceptionRules(internet: internet, destinationGuard: DestinationGuard(allowed: allowed)),
            upstream: UpstreamClient(group: group, mark: settings.upstreamMark, tls: tls), tls: tls, env: settings.env,
            limits: limits, upstreamMark: settings.upstreamMark, logger: logger
        )
        if spliceRelay { services.spliceRelay = SpliceRelay.made(warningTo: logger) }
        self.services = services
    }

    /// Where the CA comes from: the user's own certificate and key files, or the state directory
    /// (created there on first use).
    private static func certificateStore(
        stateDirectory: String, certificateAuthority: ProxySettings.CertificateAuthorityFiles?
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
        guard let endpoint = IPEndpoint(parsing: text),
              let address = try? SocketAddress(ipAddress: endpoint.address.description, port: Int(endpoint.port))
        else {
            throw ProxySettingError("\"\(text)\" is not ADDRESS:PORT (for IPv6, [ADDRESS]:PORT)")
        }
        return address
    }
}

extension SpliceRelay {
    /// A new relay, or nil with a warning to `logger` that pass-through will copy through user
    /// space (the fallback relay) when the kernel refuses what a splice relay needs.
    package static func made(warningTo logger: Logger) -> SpliceRelay? {
        do {
            return try SpliceRelay()
        } catch {
            logger.warning("no splice relay; pass-through copies through user space", metadata: ["error": .string("\(error)")])
            return nil
        }
    }
}

/// A proxy setting that cannot be used (a listen address or `allow` entry that does not parse, a
/// timeout that is not positive); the text quotes the value and says why.
package struct ProxySettingError: Error, CustomStringConvertible, Sendable {
    package let description: String

    init(_ description: String) {
        self.description = description
    }
}
