import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import EgressLinux
import EgressTLS

/// Takes a sniffed connection to its next stage: the HTTP exchange loop (plain HTTP, always:
/// its requests are routed one by one), TLS interception (when an HTTPS rule matches), a
/// pass-through relay to the original destination, or a close. Logs one line per connection.
struct ConnectionHandoff {
    let services: ProxyServices
    let connection: ConnectionContext

    func hand(_ found: SniffedProtocol, _ context: ChannelHandlerContext, _ sniffer: ConnectionSniffer) {
        switch found {
        case .http:
            if let upgrade = sniffer.heldBytes.flatMap(UpgradeRequest.init), !interceptsHTTP(host: upgrade.host),
               services.rules.current.snapshot.internet
            {
                // A protocol switch (WebSocket, ...) no rule intercepts: tunnel it, don't parse it.
                // (Without internet it goes the HTTP way, to a 403 that says why.)
                return passThrough(context, sniffer, kind: "http upgrade \(upgrade.protocols)", serverName: upgrade.host)
            }
            serveHTTP(context, sniffer, connection: connection)
        case .tls(let hello):
            if let match = services.rules.current.match(https: true, hostname: hello.serverName, destination: connection.destination) {
                intercept(hello, rule: match.target.description, context, sniffer)
            } else {
                passThrough(context, sniffer, kind: "tls", serverName: hello.serverName)
            }
        case .malformedTLS(let reason):
            refuse(context, kind: "tls", reason: "malformed TLS ClientHello: \(reason)")
        case .opaque, .needMoreBytes:
            passThrough(context, sniffer, kind: "tcp", serverName: nil)
        }
    }

    /// Whether an HTTP rule matches a request for `host` on this connection.
    private func interceptsHTTP(host: String?) -> Bool {
        services.rules.current.match(https: false, hostname: host, destination: connection.destination) != nil
    }

    private func serveHTTP(_ context: ChannelHandlerContext, _ sniffer: ConnectionSniffer, connection: ConnectionContext) {
        do {
            try HTTPExchangeLoop.serve(context.channel, connection: connection, services: services)
            sniffer.release(context)
        } catch {
            refuse(context, kind: connection.scheme, reason: "cannot set up HTTP: \(error)")
        }
    }

    /// Answers the handshake with a leaf minted for the SNI (or the address, for a client that
    /// sends none), then serves the decrypted requests like plain HTTP, under the HTTPS rules.
    private func intercept(_ hello: ClientHello, rule: String, _ context: ChannelHandlerContext, _ sniffer: ConnectionSniffer) {
        guard let tls = services.tls else {
            return refuse(context, kind: "tls", reason: "HTTPS interception has no certificate authority")
        }
        let name = hello.serverName ?? connection.destination.address.description
        do {
            let handler = try TLSHandler(context: try tls.serverContext(for: name), role: .server)
            try context.pipeline.syncOperations.addHandler(handler)
        } catch {
            return refuse(context, kind: "tls", reason: "cannot intercept TLS for \(name): \(error)")
        }
        var https = connection
        https.scheme = "https"
        https.serverName = hello.serverName
        https.logger[metadataKey: "sni"] = .string(hello.serverName ?? "-")
        connection.logger.info("connection", metadata: ["protocol": "tls", "sni": .string(hello.serverName ?? "-"), "action": "intercept", "rule": .string(rule)])
        serveHTTP(context, sniffer, connection: https)
    }

    private func passThrough(_ context: ChannelHandlerContext, _ sniffer: ConnectionSniffer, kind: String, serverName: String?) {
        let destination = connection.destination
        if let reason = services.rules.current.unmatchedRefusal(for: destination) {
            return refuse(context, kind: kind, reason: reason)
        }
        let client = context.channel
        // Reads stop here: what the sniffer holds is all that ever enters user space.
        client.setOption(.autoRead, value: false).whenFailure { _ in client.close(promise: nil) }
        let loopBound = NIOLoopBound((context, sniffer), eventLoop: context.eventLoop)
        let bootstrap = ClientBootstrap(group: context.eventLoop)
            .connectTimeout(.seconds(10))
            .channelOption(.allowRemoteHalfClosure, value: true)
            .marked(services.upstreamMark)
        let log = PassThroughLog(logger: connection.logger, kind: kind, serverName: serverName)
        let services = self.services
        bootstrap.connect(host: destination.address.description, port: Int(destination.port)).whenComplete { result in
            let (context, sniffer) = loopBound.value
            switch result {
            case .failure(let error):
                log.failed(error)
                client.close(promise: nil)
            case .success(let upstream):
                let held = sniffer.takeHeldBytes()
                guard let relay = services.spliceRelay else {
                    return Self.relayThroughNIO(context, sniffer, upstream: upstream, held: held, log: log)
                }
                SplicePassThrough.start(client: client, upstream: upstream, held: held, relay: relay) { result in
                    log.finished(result)
                }.whenFailure { error in
                    let (context, sniffer) = loopBound.value
                    log.logger.debug("splice relay unavailable, relaying through NIO", metadata: ["error": .string("\(error)")])
                    Self.relayThroughNIO(context, sniffer, upstream: upstream, held: held, log: log)
                }
            }
        }
    }

    /// The fallback relay: bytes pass through user space, in NIO buffers.
    private static func relayThroughNIO(
        _ context: ChannelHandlerContext, _ sniffer: ConnectionSniffer, upstream: any Channel, held: ByteBuffer?, log: PassThroughLog
    ) {
        let client = context.channel
        let (clientSide, upstreamSide) = RelayHandler.pair()
        do {
            try client.syncOptions?.setOption(.allowRemoteHalfClosure, value: true)
            try client.pipeline.syncOperations.addHandler(clientSide)
            try upstream.pipeline.syncOperations.addHandler(upstreamSide)
        } catch {
            client.close(promise: nil)
            upstream.close(promise: nil)
            return
        }
        if let held { upstream.writeAndFlush(held, promise: nil) }
        sniffer.release(context)
        client.setOption(.autoRead, value: true).whenFailure { _ in client.close(promise: nil) }
        let started = ContinuousClock.now
        let relay = NIOLoopBound((clientSide, upstreamSide), eventLoop: client.eventLoop)
        client.closeFuture.and(upstream.closeFuture).whenComplete { _ in
            let (clientSide, upstreamSide) = relay.value
            let up = clientSide.bytesRead + (held?.readableBytes ?? 0)
            log.finished(relay: "nio", up: up, down: upstreamSide.bytesRead, duration: ContinuousClock.now - started, error: nil)
        }
    }

    private func refuse(_ context: ChannelHandlerContext, kind: String, reason: String) {
        connection.logger.info("connection", metadata: ["protocol": .string(kind), "action": "close", "reason": .string(reason)])
        context.close(promise: nil)
    }
}

/// The decision log line of a pass-through connection.
struct PassThroughLog: Sendable {
    let logger: Logger
    let kind: String
    let serverName: String?

    func failed(_ error: any Error) {
        logger.info("connection", metadata: [
            "protocol": .string(kind), "sni": .string(serverName ?? "-"), "action": "pass-through", "error": .string("\(error)"),
        ])
    }

    func finished(_ result: RelayResult) {
        var error: String?
        if case .failed(let failure) = result.outcome { error = failure.description }
        finished(relay: "splice", up: Int(result.bytesToUpstream), down: Int(result.bytesToClient), duration: result.duration, error: error)
    }

    func finished(relay: String, up: Int, down: Int, duration: Duration, error: String?) {
        var metadata: Logger.Metadata = [
            "protocol": .string(kind), "sni": .string(serverName ?? "-"), "action": "pass-through", "relay": .string(relay),
            "bytes_up": .stringConvertible(up), "bytes_down": .stringConvertible(down), "duration": .string("\(duration)"),
        ]
        if let error { metadata["error"] = .string(error) }
        logger.info("connection", metadata: metadata)
    }
}
