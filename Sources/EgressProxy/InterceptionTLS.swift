import EgressCertificates
import EgressTLS
import NIOCore
import Synchronization

/// The TLS of interception: server contexts presenting minted leaves to clients (one `SSL_CTX`
/// per name, cached, so a warm name costs no mint and no context set-up), and the verified client
/// context for TLS the proxy originates upstream.
package final class InterceptionTLS: UpstreamTLS {
    private let certificates: LeafCertificateCache
    private let upstreamContext: TLSContext
    /// A context per leaf, reused only while the cache still hands out that leaf (so a renewed
    /// leaf gets a new context).
    private let serverContexts: Mutex<[LeafName: (leaf: MintedLeaf, context: TLSContext)]> = Mutex([:])
    /// The most server contexts kept; past it the cache starts again (leaves stay cached).
    private let serverContextLimit: Int

    /// Leaves from `certificates`; upstream TLS verified against the system trust store plus
    /// `extraRootsPEMFile`.
    package init(certificates: LeafCertificateCache, extraRootsPEMFile: String?, serverContextLimit: Int = 1024) throws {
        self.certificates = certificates
        self.upstreamContext = try TLSContext.client(extraRootsPEMFile: extraRootsPEMFile)
        self.serverContextLimit = serverContextLimit
    }

    /// A server context presenting the leaf for `name` (an SNI, or an address for clients that
    /// send none) followed by the CA.
    package func serverContext(for name: String) throws -> TLSContext {
        let leaf = try certificates.leaf(for: name)
        if let cached = serverContexts.withLock({ $0[leaf.name] }), cached.leaf === leaf { return cached.context }
        let context = try TLSContext.server(
            certificate: leaf.certificate.pointer, chain: leaf.chain.map(\.pointer), privateKey: leaf.privateKey.pointer
        )
        serverContexts.withLock { contexts in
            if contexts.count >= serverContextLimit { contexts.removeAll(keepingCapacity: true) }
            contexts[leaf.name] = (leaf, context)
        }
        return context
    }

    package func addClientHandler(to channel: any Channel, serverName: String) throws {
        try channel.pipeline.syncOperations.addHandler(try TLSHandler(context: upstreamContext, role: .client(serverHostname: serverName)))
    }
}
