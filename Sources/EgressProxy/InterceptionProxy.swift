import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Workers

/// An interception proxy for library users: create one, register handlers at any time (rules
/// apply live), and run it as a swift-service-lifecycle `Service` until shut down, when it
/// drains open connections.
///
/// ```swift
/// let proxy = try InterceptionProxy(configuration: .init(internet: false))
/// try proxy.interceptOutboundHttp("api.example.com", Worker(MyHandler()))
/// try await ServiceGroup(services: [proxy], gracefulShutdownSignals: [.sigterm], logger: logger).run()
/// ```
public final class InterceptionProxy: Service, Sendable {
    /// How the proxy listens and what it may do.
    public struct Configuration: Sendable {
        /// `ADDRESS:PORT` listeners (`[::]:15001` for IPv6); by default both families, as
        /// `egressd run` listens.
        public var listen: [String]
        /// `REDIRECT` (original destination from the kernel) or `TPROXY` (the local address).
        public var transparentProxy: Bool
        /// Whether traffic no rule intercepts may go out.
        public var internet: Bool
        /// How long open connections get to finish on shutdown.
        public var drainGrace: Duration
        /// The CA, upstream, `env` and timeouts, as a container host has them too.
        public var settings: ProxySettings

        /// By default: both families on port 15001, `REDIRECT`, internet on, a 10 s drain and
        /// the default ``ProxySettings``.
        public init(
            listen: [String] = ["0.0.0.0:15001", "[::]:15001"], transparentProxy: Bool = false, internet: Bool = true,
            drainGrace: Duration = .seconds(10), settings: ProxySettings = ProxySettings()
        ) {
            self.listen = listen
            self.transparentProxy = transparentProxy
            self.internet = internet
            self.drainGrace = drainGrace
            self.settings = settings
        }
    }

    private let configuration: Configuration
    private let listenAddresses: [SocketAddress]
    private let server: ProxyServer
    private let group: MultiThreadedEventLoopGroup

    /// A proxy that does not listen yet (``run()`` does). Throws, having started nothing, on an
    /// address or range that does not parse, a timeout that is not positive, or a CA that
    /// cannot be loaded or made.
    public init(configuration: Configuration, logger: Logger = Logger(label: "egress")) throws {
        self.configuration = configuration
        self.listenAddresses = try configuration.listen.map(ProxySetup.socketAddress)
        let setup = try ProxySetup(internet: configuration.internet, settings: configuration.settings, logger: logger)
        self.group = setup.group
        self.server = ProxyServer(services: setup.services, group: setup.group)
    }

    /// Routes plain HTTP requests to `target` (hostname, glob, IP, IP:port, CIDR) through
    /// `worker`; first registered wins, registering a target again replaces its handler.
    public func interceptOutboundHttp(_ target: String, _ worker: Worker) throws {
        try server.services.rules.interceptOutboundHttp(target, worker)
    }

    /// Routes every plain HTTP request on port 80 through `worker`.
    public func interceptAllOutboundHttp(_ worker: Worker) {
        server.services.rules.interceptAllOutboundHttp(worker)
    }

    /// Intercepts HTTPS to `target` and routes its requests through `worker`.
    public func interceptOutboundHttps(_ target: String, _ worker: Worker) throws {
        try server.services.rules.interceptOutboundHttps(target, worker)
    }

    /// Lets unmatched traffic out, or not.
    public func setInternet(_ enabled: Bool) {
        server.services.rules.setInternet(enabled)
    }

    /// The proxy's shared services (what built-in handlers are made with).
    package var services: ProxyServices {
        server.services
    }

    /// Replaces every rule, the internet setting and the destination guard at once (a
    /// configuration reload); requests and connections decided from now on see them.
    package func replaceRules(with snapshot: InterceptionRules.Snapshot) {
        server.services.rules.replace(with: snapshot)
    }

    /// Listens until graceful shutdown, then drains open connections. A listener that cannot
    /// bind stops the proxy (the others close) and throws.
    public func run() async throws {
        let mode: CaptureMode = configuration.transparentProxy ? .tproxy : .redirect
        let logger = server.services.logger
        do {
            for address in listenAddresses {
                let bound = try await server.listen(on: address, mode: mode)
                logger.info("listening", metadata: [
                    "address": .string("\(bound)"), "mode": .string(mode.rawValue),
                    "internet": .stringConvertible(server.services.rules.snapshot.internet),
                ])
            }
        } catch {
            await server.drain(grace: .zero)
            try? await group.shutdownGracefully()
            throw error
        }
        try? await gracefulShutdown()
        logger.info("draining", metadata: ["connections": .stringConvertible(server.openConnections)])
        await server.drain(grace: configuration.drainGrace)
        try await group.shutdownGracefully()
    }
}
