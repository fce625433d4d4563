/// A handler bound to the props it is registered with, ready for a rule: what
/// `interceptOutboundHttp(target, worker)` takes.
public struct Worker: Sendable {
    /// The handler's name, used in logs and in the `502` a failure produces.
    public let name: String
    /// How long the handler may take to return its response head before the client gets a `502`.
    public let timeout: Duration
    private let invoke: @Sendable (Request, WorkerInvocation) async throws -> Response

    /// The timeout of a worker made without one: 30 seconds.
    public static let defaultTimeout: Duration = .seconds(30)

    /// Binds `entrypoint` to `props`. `name` defaults to the handler's type name.
    public init<Entrypoint: WorkerEntrypoint>(
        _ entrypoint: Entrypoint, props: Entrypoint.Props, name: String? = nil, timeout: Duration = Worker.defaultTimeout
    ) {
        self.name = name ?? String(describing: Entrypoint.self)
        self.timeout = timeout
        self.invoke = { request, invocation in
            let context = WorkerContext(
                props: props, env: invocation.env, logger: invocation.logger,
                connection: invocation.connection, fetch: invocation.fetch
            )
            return try await entrypoint.fetch(request, context: context)
        }
    }

    /// A handler without props.
    public init<Entrypoint: WorkerEntrypoint>(
        _ entrypoint: Entrypoint, name: String? = nil, timeout: Duration = Worker.defaultTimeout
    ) where Entrypoint.Props == Void {
        self.init(entrypoint, props: (), name: name, timeout: timeout)
    }

    /// Runs the handler for one request (the proxy applies ``timeout`` and turns failures into `502`s).
    package func handle(_ request: Request, _ invocation: WorkerInvocation) async throws -> Response {
        try await invoke(request, invocation)
    }
}

/// What the proxy supplies for one call of a handler.
package struct WorkerInvocation: Sendable {
    package var env: [String: String]
    package var logger: Logger
    package var connection: InterceptedConnection
    package var fetch: @Sendable (Request) async throws -> Response

    package init(
        env: [String: String], logger: Logger, connection: InterceptedConnection,
        fetch: @escaping @Sendable (Request) async throws -> Response
    ) {
        self.env = env
        self.logger = logger
        self.connection = connection
        self.fetch = fetch
    }
}
