/// What a handler sees besides the request: its props, the proxy's environment, a logger, the
/// connection the request came on, and an outbound `fetch` to the real internet.
public struct WorkerContext<Props: Sendable>: Sendable {
    /// The properties the handler was registered with.
    public let props: Props
    /// The proxy's environment (names and values given to it by its configuration).
    public let env: [String: String]
    /// A logger whose lines carry the request's connection and rule.
    public let logger: Logger
    /// Where the request came from and where it was going.
    public let connection: InterceptedConnection
    private let outbound: @Sendable (Request) async throws -> Response

    /// A context; Egress makes these, and tests of a handler can too.
    public init(
        props: Props,
        env: [String: String] = [:],
        logger: Logger = Logger(label: "egress.worker"),
        connection: InterceptedConnection = InterceptedConnection(),
        fetch: @escaping @Sendable (Request) async throws -> Response
    ) {
        self.props = props
        self.env = env
        self.logger = logger
        self.connection = connection
        self.outbound = fetch
    }

    /// Sends `request` to its real destination (its URL's scheme, host and port) and returns the
    /// response. These requests leave from the proxy itself and are never intercepted.
    public func fetch(_ request: Request) async throws -> Response {
        try await outbound(request)
    }
}

/// The connection an intercepted request arrived on.
public struct InterceptedConnection: Sendable, Hashable {
    /// The client's address and port, such as `198.51.100.1:40212`.
    public var source: String
    /// The address and port the client dialled before the redirect, such as `203.0.113.7:443`.
    public var originalDestination: String
    /// The TLS server name the client sent, for intercepted HTTPS.
    public var serverName: String?

    /// A description of a connection.
    public init(source: String = "", originalDestination: String = "", serverName: String? = nil) {
        self.source = source
        self.originalDestination = originalDestination
        self.serverName = serverName
    }
}
