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
        var action: String
        var rule: String?
    }

    static func respond(
        to request: Request, connection: ConnectionContext, services: ProxyServices
    ) async -> (Response, Decision) {
        let snapshot = services.rules.snapshot
        let table = connection.scheme == "https" ? snapshot.https : snapshot.http
        let hostname = request.head.authority.map(HTTPConversion.hostname(ofAuthority:)) ?? connection.serverName
        let destination = connection.destination
        if let match = table.match(hostname: hostname, address: destination.address, port: destination.port) {
            let response = await WorkerInvoker.respond(with: match.value, to: request, connection: connection, services: services)
            return (response, Decision(action: "handler \(match.value.name)", rule: match.target.description))
        }
        let shownHost = hostname ?? connection.destinationText
        guard snapshot.internet else {
            let reason = "no rule intercepts it and this container has no internet access"
            return (ProxyResponses.denied(host: shownHost, reason: reason), Decision(action: "deny", rule: nil))
        }
        if let refusal = services.destinationGuard.refusal(for: destination) {
            let reason = "\(destination) is a \(refusal), which the proxy does not dial for a container"
            return (ProxyResponses.denied(host: shownHost, reason: reason), Decision(action: "deny", rule: nil))
        }
        let target = UpstreamTarget(
            host: connection.destinationHost, port: Int(destination.port),
            usesTLS: connection.scheme == "https", serverName: hostname
        )
        do {
            let response = try await services.upstream.send(request, to: target)
            return (response, Decision(action: "forward \(target)", rule: nil))
        } catch {
            return (ProxyResponses.upstreamFailed(target.description, error), Decision(action: "forward \(target)", rule: nil))
        }
    }
}
