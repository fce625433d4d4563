import Workers

/// Routes one HTTP request by the rules as they are now: to the first matching handler, else
/// out to its original destination (internet on), else to a denial (internet off).
///
/// Plain HTTP is matched against the HTTP rules; requests inside intercepted TLS against the
/// HTTPS rules. Hostname rules see the request's `Host` (without port); address rules see the
/// original destination; the port is always the original destination's.
enum RequestRouter {
    /// What was decided for a request, for the decision log.
    struct Decision: Sendable {
        var action: RequestLogLine.Action
        var rule: String?
    }

    /// Where a request goes.
    enum Route {
        /// To the handler of the first matching rule.
        case handler(Worker, rule: String)
        /// Out to its original destination.
        case forward(UpstreamTarget)
        /// Nowhere: denied with a `403` that names the host and says why.
        case deny(host: String, reason: String)
    }

    /// The route of a request for `hostname` (its `Host` without port; nil: the connection's
    /// SNI) under the rules as they are now.
    static func route(hostname: String?, connection: ConnectionContext, services: ProxyServices) -> Route {
        // Read in place (the methods of `Current`): a copy of the snapshot or of a table would
        // retain every array in it, for every request.
        let rules = services.rules.current
        let hostname = hostname ?? connection.serverName
        let destination = connection.destination
        let https = connection.scheme == "https"
        if let match = rules.match(https: https, hostname: hostname, destination: destination) {
            return .handler(match.value, rule: match.target.description)
        }
        let shownHost = hostname ?? connection.destinationText
        if let reason = rules.unmatchedRefusal(for: destination) {
            return .deny(host: shownHost, reason: reason)
        }
        return .forward(UpstreamTarget(
            host: connection.destinationHost, port: Int(destination.port),
            usesTLS: https, serverName: hostname
        ))
    }

    static func respond(
        to request: Request, connection: ConnectionContext, services: ProxyServices
    ) async -> (Response, Decision) {
        let hostname = request.head.authority.map(HTTPConversion.hostname(ofAuthority:))
        switch route(hostname: hostname, connection: connection, services: services) {
        case .handler(let worker, let rule):
            let response = await WorkerInvoker.respond(with: worker, to: request, connection: connection, services: services)
            return (response, Decision(action: .handler(worker.name), rule: rule))
        case .deny(let host, let reason):
            return (ProxyResponses.denied(host: host, reason: reason), Decision(action: .deny, rule: nil))
        case .forward(let target):
            do {
                let response = try await services.upstream.send(request, to: target)
                return (response, Decision(action: .forward(target), rule: nil))
            } catch {
                return (ProxyResponses.upstreamFailed(target.description, error), Decision(action: .forward(target), rule: nil))
            }
        }
    }
}
