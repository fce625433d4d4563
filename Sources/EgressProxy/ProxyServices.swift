import EgressLinux
import Logging
import NIOCore
import Workers

/// What every connection of one proxy shares: the rules (with the pass-through guard), the
/// upstream client, the certificate cache and the limits.
package struct ProxyServices: Sendable {
    package var rules: InterceptionRules
    package var upstream: UpstreamClient
    /// Minted leaves and TLS contexts for intercepted TLS; nil when HTTPS interception is not set up.
    package var tls: InterceptionTLS?
    /// The environment handlers see as `context.env`.
    package var env: [String: String]
    package var limits: ProxyLimits
    /// The `splice(2)` relay for pass-through; nil relays through NIO (bytes copied in user space).
    package var spliceRelay: SpliceRelay?
    /// `SO_MARK` for upstream sockets, so iptables can exempt the proxy's own traffic.
    package var upstreamMark: UInt32?
    /// The decision log: one line per connection and per request.
    package var logger: Logger

    package init(
        rules: InterceptionRules, upstream: UpstreamClient, tls: InterceptionTLS? = nil, env: [String: String] = [:], limits: ProxyLimits = ProxyLimits(),
        upstreamMark: UInt32? = nil, logger: Logger = Logger(label: "egress")
    ) {
        self.upstreamMark = upstreamMark
        self.rules = rules
        self.upstream = upstream
        self.tls = tls
        self.env = env
        self.limits = limits
        self.logger = logger
    }
}

/// Sizes and times that bound what a client can make the proxy do.
package struct ProxyLimits: Sendable {
    /// How many bytes the sniffer reads at most before deciding.
    package var sniffBytes = 16 * 1024 + 512
    /// How long the sniffer waits for a client's first bytes before treating it as opaque TCP.
    package var sniffTimeout = TimeAmount(ProxySettings.defaultSniffTimeout)
    /// How long an HTTP connection may go without reading or writing anything before it is
    /// closed (a stalled client, or a kept-alive connection nobody uses).
    package var idleTimeout = TimeAmount(ProxySettings.defaultIdleTimeout)

    package init() {}
}

/// One redirected connection, as the routing of its requests sees it.
package struct ConnectionContext: Sendable {
    /// The client's address and port.
    package var source: String
    /// Where the client was going before the redirect.
    package let destination: IPEndpoint
    /// The destination's address as text (`203.0.113.7`, `2001:db8::7`), formatted once.
    package let destinationHost: String
    /// The destination as text (`203.0.113.7:443`, `[2001:db8::7]:443`), formatted once.
    package let destinationText: String
    /// `http`, or `https` inside intercepted TLS.
    package var scheme: String
    /// The TLS SNI, for intercepted TLS.
    package var serverName: String?
    /// Logger with the connection's metadata.
    package var logger: Logger
    /// The event loop that serves the client connection.
    package var eventLoop: any EventLoop
    /// The task executor of that event loop: the connection's tasks run on its thread.
    package var executor: EventLoopTaskExecutor

    package init(
        source: String, destination: IPEndpoint, scheme: String, serverName: String? = nil, logger: Logger,
        eventLoop: any EventLoop
    ) {
        self.eventLoop = eventLoop
        self.executor = EventLoopTaskExecutor.of(eventLoop)
        self.source = source
        self.destination = destination
        self.destinationHost = destination.address.description
        self.destinationText = destination.description
        self.scheme = scheme
        self.serverName = serverName
        self.logger = logger
    }

    var intercepted: InterceptedConnection {
        InterceptedConnection(source: source, originalDestination: destinationText, serverName: serverName)
    }
}
