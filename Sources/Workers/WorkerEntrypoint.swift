/// A handler for intercepted requests: the Swift counterpart of a Cloudflare `WorkerEntrypoint`
/// registered with `interceptOutboundHttp`, `interceptAllOutboundHttp` or `interceptOutboundHttps`.
///
/// Egress calls ``fetch(_:context:)`` once per intercepted request, concurrently for concurrent
/// requests. The request arrives as the container sent it (method, `scheme://host/path` URL,
/// headers unchanged, body streamed); the response may stream too. A handler that throws, or that
/// does not answer within its timeout, produces a `502 Bad Gateway` that names it.
///
/// `fetch` runs on the thread of the event loop that serves the request's connection (the task
/// that calls it prefers that loop's executor), so a request goes from the socket to the handler
/// and back without a thread switch. Await I/O rather than block: a handler that blocks its thread
/// (synchronous file or network I/O, a long computation) holds up the other connections of that
/// loop meanwhile; give such work a thread of its own.
///
/// There is no protocol upgrade support: a request that asks to switch protocols
/// (`Connection: upgrade`, `Upgrade: websocket`) reaches `fetch` as an ordinary request, a
/// handler cannot accept the switch and speak the new protocol, and its response goes to the
/// client as a normal HTTP response (the connection then goes on as HTTP). Upgrade requests that
/// no rule intercepts are tunnelled to their origin by the proxy.
///
/// ```swift
/// struct Greeter: WorkerEntrypoint {
///     func fetch(_ request: Request, context: WorkerContext<String>) async throws -> Response {
///         Response(status: .ok, body: Body("hello from \(context.props)\n"))
///     }
/// }
/// proxy.interceptOutboundHttp("api.example.com", Worker(Greeter(), props: "Egress"))
/// ```
public protocol WorkerEntrypoint: Sendable {
    /// The properties the handler is registered with (see ``Worker/init(_:props:name:)``).
    associatedtype Props: Sendable = Void

    /// Answers one intercepted request.
    func fetch(_ request: Request, context: WorkerContext<Props>) async throws -> Response
}
