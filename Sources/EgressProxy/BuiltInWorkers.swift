import EgressLinux
import EgressRules
import Workers

/// `respond`: a fixed response, made once (its head and body bytes are shared by every
/// response it gives, not built per request).
package struct RespondWorker: WorkerEntrypoint {
    package struct Props: Sendable {
        /// The status and header fields.
        package let head: HTTPResponse
        /// The body's bytes.
        package let body: ByteBuffer

        package init(status: Int, headerFields: HTTPFields, body: String) {
            head = HTTPResponse(status: .init(code: status), headerFields: headerFields)
            self.body = ByteBuffer(string: body)
        }
    }

    package init() {}

    package func fetch(_ request: Request, context: WorkerContext<Props>) async throws -> Response {
        Response(head: context.props.head, body: Body(context.props.body))
    }
}

/// `deny`: refuses the request with a status and a body that says so.
package struct DenyWorker: WorkerEntrypoint {
    package init() {}

    package func fetch(_ request: Request, context: WorkerContext<Int>) async throws -> Response {
        let host = request.head.authority ?? context.connection.originalDestination
        return Response(
            status: .init(code: context.props), headerFields: [.contentType: "text/plain; charset=utf-8"],
            body: Body("egress: request to \(host) denied by rule\n")
        )
    }
}

/// `forward`: sends the request on, to the destination the client dialled (`origin`) or to a
/// fixed URL (a local service), with header fields set or removed on the way, so a secret can be
/// injected without the container ever holding it.
package struct ForwardWorker: WorkerEntrypoint {
    package enum Destination: Sendable, Equatable {
        /// Where the client was going: its original destination address and port, with the
        /// request's `Host` as TLS server name for HTTPS.
        case origin
        /// A fixed `http` or `https` base URL; the request's path is appended to its path.
        case url(usesTLS: Bool, authority: String, basePath: String)
    }

    package struct Props: Sendable {
        package var destination: Destination
        package var setHeaders: HTTPFields
        package var removeHeaders: [HTTPField.Name]

        package init(destination: Destination, setHeaders: HTTPFields = [:], removeHeaders: [HTTPField.Name] = []) {
            self.destination = destination
            self.setHeaders = setHeaders
            self.removeHeaders = removeHeaders
        }
    }

    private let upstream: UpstreamClient
    private let destinationGuard: DestinationGuard

    /// A forwarder that sends through `upstream` and, for `origin`, refuses what `destinationGuard` refuses.
    package init(upstream: UpstreamClient, destinationGuard: DestinationGuard) {
        self.upstream = upstream
        self.destinationGuard = destinationGuard
    }

    package func fetch(_ request: Request, context: WorkerContext<Props>) async throws -> Response {
        var request = request
        for name in context.props.removeHeaders {
            request.headerFields[name] = nil
        }
        for field in context.props.setHeaders {
            // The Host is the request's authority in swift-http-types.
            if field.name.canonicalName == "host" {
                request.head.authority = field.value
            } else {
                request.headerFields[field.name] = field.value
            }
        }
        let hostname = request.head.authority.map(HTTPConversion.hostname(ofAuthority:))
        switch context.props.destination {
        case .origin:
            guard let destination = IPEndpoint(parsing: context.connection.originalDestination) else {
                throw UpstreamError("no original destination to forward to")
            }
            if let reason = destinationGuard.refusalReason(for: destination) { throw UpstreamError(reason) }
            let usesTLS = request.head.scheme == "https"
            let target = UpstreamTarget(
                host: destination.address.description, port: Int(destination.port), usesTLS: usesTLS,
                serverName: hostname ?? context.connection.serverName
            )
            return try await upstream.send(request, to: target)
        case .url(let usesTLS, let authority, let basePath):
            let host = HTTPConversion.hostname(ofAuthority: authority)
            let port = HTTPConversion.port(ofAuthority: authority) ?? (usesTLS ? 443 : 80)
            // Set only when it changes: setting a path copies the request head.
            if basePath != "/" { request.head.path = basePath + (request.head.path ?? "/") }
            let target = UpstreamTarget(host: host, port: port, usesTLS: usesTLS, serverName: host)
            return try await upstream.send(request, to: target)
        }
    }
}
