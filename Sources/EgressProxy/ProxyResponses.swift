import Workers

/// The responses the proxy itself writes: denials and failures, each with a body that says what
/// happened and to which host, so a person reading `curl` output knows where to look.
enum ProxyResponses {
    static func denied(host: String, reason: String) -> Response {
        text(.forbidden, "egress: request to \(host) denied: \(reason)\n")
    }

    static func handlerFailed(_ name: String, _ error: any Error) -> Response {
        text(.badGateway, "egress: handler \(name) failed: \(error)\n")
    }

    static func handlerTimedOut(_ name: String, after timeout: Duration) -> Response {
        text(.badGateway, "egress: handler \(name) did not answer within \(timeout)\n")
    }

    static func upstreamFailed(_ target: String, _ error: any Error) -> Response {
        text(.badGateway, "egress: upstream \(target) failed: \(error)\n")
    }

    static func badRequest(_ reason: String) -> Response {
        text(.badRequest, "egress: malformed request: \(reason)\n")
    }

    private static func text(_ status: HTTPResponse.Status, _ message: String) -> Response {
        Response(
            status: status,
            headerFields: [.contentType: "text/plain; charset=utf-8"],
            body: Body(message)
        )
    }
}
