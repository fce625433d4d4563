import Workers

/// Calls a handler for one request under its timeout, turning a throw or a timeout into a `502`
/// that names the handler; the proxy keeps serving either way.
enum WorkerInvoker {
    static func respond(
        with worker: Worker, to request: Request, connection: ConnectionContext, services: ProxyServices
    ) async -> Response {
        let invocation = invocation(connection: connection, services: services)
        do {
            let handled = try await Deadline.run(within: worker.timeout, on: connection.eventLoop, executor: connection.executor) {
                try await worker.handle(request, invocation)
            }
            return handled ?? timedOut(worker, connection: connection)
        } catch {
            return failed(worker, error, connection: connection)
        }
    }

    /// What the proxy supplies to a handler called for a request of `connection`.
    static func invocation(connection: ConnectionContext, services: ProxyServices) -> WorkerInvocation {
        let upstream = services.upstream
        return WorkerInvocation(
            env: services.env, logger: connection.logger, connection: connection.intercepted,
            fetch: { request in try await OutboundFetch.send(request, with: upstream) }
        )
    }

    /// Logs that `worker` did not answer in time; the `502` that says so.
    static func timedOut(_ worker: Worker, connection: ConnectionContext) -> Response {
        connection.logger.warning("handler timed out", metadata: ["handler": .string(worker.name)])
        return ProxyResponses.handlerTimedOut(worker.name, after: worker.timeout)
    }

    /// Logs that `worker` threw `error`; the `502` that says so.
    static func failed(_ worker: Worker, _ error: any Error, connection: ConnectionContext) -> Response {
        connection.logger.warning("handler failed", metadata: ["handler": .string(worker.name), "error": .string("\(error)")])
        return ProxyResponses.handlerFailed(worker.name, error)
    }
}

/// A handler's `context.fetch`: the request goes to its URL's host and port, from the proxy,
/// never intercepted.
enum OutboundFetch {
    static func send(_ request: Request, with upstream: UpstreamClient) async throws -> Response {
        guard let authority = request.head.authority, !authority.isEmpty else {
            throw UpstreamError("outbound request has no host: \(request.url)")
        }
        let usesTLS = request.head.scheme?.lowercased() == "https"
        let host = HTTPConversion.hostname(ofAuthority: authority)
        let port = HTTPConversion.port(ofAuthority: authority) ?? (usesTLS ? 443 : 80)
        let target = UpstreamTarget(host: host, port: port, usesTLS: usesTLS, serverName: host)
        return try await upstream.send(request, to: target)
    }
}
