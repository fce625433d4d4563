import HTTPTypes
import Logging
import NIOCore
import NIOHTTP1
import Workers

/// Serves the HTTP/1.1 requests of one client connection (plain, or inside intercepted TLS) one
/// after another, which keeps pipelined requests in order. Each request is routed on its own
/// (so rules added while a connection is open apply to its next request), its body streamed to
/// whoever answers it, and its response streamed back.
enum HTTPExchangeLoop {
    typealias Channel = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    /// Serves HTTP/1.1 on `channel` (from its event loop): the codec, the idle closer, the
    /// ``RequestGate`` for requests that go straight out, and the loop for the rest, in a task
    /// on the channel's event loop.
    static func serve(_ channel: any NIOCore.Channel, connection: ConnectionContext, services: ProxyServices) throws {
        let pipeline = channel.pipeline.syncOperations
        try HTTPServerCodec.add(to: pipeline)
        try pipeline.addHandler(IdleConnectionCloser(timeout: services.limits.idleTimeout))
        try pipeline.addHandler(RequestGate(services: services, connection: connection))
        let exchanges = try Channel(wrappingChannelSynchronously: channel)
        Task(executorPreference: connection.executor) {
            await run(exchanges, connection: connection, services: services)
        }
    }

    static func run(_ channel: Channel, connection: ConnectionContext, services: ProxyServices) async {
        do {
            try await channel.executeThenClose { inbound, outbound in
                let parts = InboundRequestParts(inbound)
                while let head = try await nextHead(parts, outbound: outbound, channel: channel.channel, connection: connection) {
                    guard try await exchange(head, parts: parts, outbound: outbound, connection: connection, services: services) else {
                        return
                    }
                }
            }
        } catch {
            connection.logger.debug("connection ended", metadata: ["error": .string("\(error)")])
        }
    }

    /// The next request head; on a malformed request, answers 400 (431 for oversized headers) and
    /// returns nil, which ends the connection only once the client has closed its side or its
    /// time is up (``LingeringClose``), so the rest of the request it may still send cannot turn
    /// the close into a reset that destroys the answer.
    private static func nextHead(
        _ parts: InboundRequestParts, outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>,
        channel: any NIOCore.Channel, connection: ConnectionContext
    ) async throws -> HTTPRequestHead? {
        do {
            while let part = try await parts.next() {
                if case .head(let head) = part { return head }
            }
            return nil
        } catch let error as HTTPParserError {
            let response = error == .headerOverflow
                ? Response(status: .init(code: 431, reasonPhrase: "Request Header Fields Too Large"), body: Body("egress: request headers too large\n"))
                : ProxyResponses.badRequest("\(error)")
            var line = RequestLogLine()
            line.add("action", "reject")
            line.add("status", response.status.code)
            line.add("error", "\(error)")
            line.log(to: connection.logger)
            await reject(with: response, version: .http1_1, to: outbound, on: connection.eventLoop)
            try? await channel.eventLoop.submit { try LingeringClose.add(to: channel.pipeline.syncOperations) }.get()
            try? await channel.closeFuture.get()
            return nil
        }
    }

    /// One request and its response; true if the connection goes on.
    private static func exchange(
        _ head: HTTPRequestHead, parts: InboundRequestParts, outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>,
        connection: ConnectionContext, services: ProxyServices
    ) async throws -> Bool {
        guard hasBody(head) else {
            // No body: its end is already read, and no pump or hand-over is needed.
            guard case .end = try await parts.next() else { return false }
            return try await respond(head, body: .empty, outbound: outbound, connection: connection, services: services) {}
        }
        let (body, writer) = Body.makeStream()
        async let bodyEnded = parts.pumpBody(into: writer)
        let keepAlive = try await respond(head, body: body, outbound: outbound, connection: connection, services: services) {
            writer.abandon()
        }
        return await bodyEnded && keepAlive
    }

    /// Routes the request, writes its response and logs the decision; `responded` runs once
    /// the response is out (the rest of the body is then nobody's). True if the connection goes on.
    private static func respond(
        _ head: HTTPRequestHead, body: Body, outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>,
        connection: ConnectionContext, services: ProxyServices, responded: () -> Void
    ) async throws -> Bool {
        let started = ContinuousClock.now
        defer { responded() }
        let request: HTTPRequest
        do {
            request = try HTTPConversion.request(head, scheme: connection.scheme)
        } catch {
            await reject(with: ProxyResponses.badRequest(error.description), version: head.version, to: outbound, on: connection.eventLoop)
            return false
        }
        // 100 Continue exists from HTTP/1.1 on; an HTTP/1.0 client's Expect is ignored.
        if body.knownLength == nil, head.version != .http1_0, head.version != .http0_9,
           head.headers[canonicalForm: "expect"].contains(where: { $0.lowercased() == "100-continue" })
        {
            try await outbound.write(.head(HTTPResponseHead(version: head.version, status: .continue)))
        }
        let (response, decision) = await RequestRouter.respond(
            to: Request(head: request, body: body), connection: connection, services: services
        )
        let keepAlive = head.isKeepAlive
        func log(bytes: Int, error: String? = nil) {
            RequestLogLine(
                method: request.method.rawValue, url: .init(scheme: request.scheme ?? "http", authority: request.authority, path: request.path ?? ""),
                rule: decision.rule, action: decision.action, status: response.status.code, bytes: bytes, started: started,
                error: error
            ).log(to: connection.logger)
        }
        var sent = 0
        do {
            try await write(response, version: head.version, close: !keepAlive, to: outbound, on: connection.eventLoop, sent: &sent)
            log(bytes: sent)
        } catch {
            // The client left (or the response's body failed) while it was being written.
            log(bytes: sent, error: "the response was cut short: \(error)")
            throw error
        }
        return keepAlive
    }

    /// Whether a request head announces a body (a length above zero, or a transfer coding): the
    /// one test of it, shared with ``RequestGate`` (which serves the requests without one).
    static func hasBody(_ head: HTTPRequestHead) -> Bool {
        if head.headers.contains(name: "transfer-encoding") { return true }
        return head.headers.first(name: "content-length").map { $0 != "0" } ?? false
    }

    /// Writes one of the proxy's own answers to a request it cannot serve, closing the connection
    /// after it (a client that is gone by then changes nothing).
    private static func reject(
        with response: Response, version: HTTPVersion, to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>,
        on eventLoop: any EventLoop
    ) async {
        var sent = 0
        try? await write(response, version: version, close: true, to: outbound, on: eventLoop, sent: &sent)
    }

    /// Writes a response, counting the body bytes handed to the channel in `sent` (also when
    /// it throws part-way).
    private static func write(
        _ response: Response, version: HTTPVersion, close: Bool, to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>,
        on eventLoop: any EventLoop, sent: inout Int
    ) async throws {
        var head = HTTPConversion.clientHead(response.head, version: version, knownLength: response.body.knownLength)
        if close { head.headers.replaceOrAdd(name: "Connection", value: "close") }
        if let knownLength = response.body.knownLength {
            // A body already in memory goes out with its head in one write.
            var parts: [HTTPServerResponsePart] = [.head(head)]
            for try await chunk in response.body { parts.append(.body(.byteBuffer(chunk))) }
            parts.append(.end(nil))
            try await outbound.write(contentsOf: parts)
            sent = knownLength
            return
        }
        try await outbound.write(.head(head))
        var pacer = WritePacer(eventLoop: eventLoop)
        for try await chunk in response.body {
            sent += chunk.readableBytes
            try await outbound.write(.body(.byteBuffer(chunk)))
            try await pacer.wrote(chunk.readableBytes)
        }
        try await outbound.write(.end(nil))
    }
}
