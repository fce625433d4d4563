import Logging
import NIOCore
import NIOHTTP1

/// One request without a body that ``RequestGate`` forwards itself, on the client connection's event loop:
/// the client's wire head goes to a pooled upstream connection of the same loop, and the
/// response's parts come back to the client as they arrive, no task, no conversion to
/// swift-http-types, the client's writability gating reads from the upstream. What one read
/// from the upstream brought goes to the client in one flush (a small response: one write).
///
/// A request that asks to switch protocols (``UpgradeRequest``) goes out on a new connection of
/// its own, never pooled, with its `Upgrade` fields and `Connection: upgrade`. If the origin
/// answers `101 Switching Protocols`, that head goes to the client and the two connections
/// become an ``UpgradeTunnel`` (the decision line is logged when it ends, with its byte counts);
/// any other answer is relayed like any response, the upstream connection then closes, and the
/// client's connection goes on as HTTP.
final class DirectExchange: GateExchange, UpstreamResponseSink {
    private let request: HTTPRequestHead
    private let upstreamHead: HTTPRequestHead
    private let upgrade: UpgradeRequest?
    private let target: UpstreamTarget
    private let url: RequestLogLine.URLParts
    private let context: ChannelHandlerContext
    private let upstream: UpstreamClient
    private let logger: Logger
    /// Told when the exchange is over; gone if the connection's pipeline went first.
    private weak var gate: RequestGate?
    private let started = ContinuousClock.now
    private var control: UpstreamExchangeControl?
    /// The upstream connection carrying the request, once it was sent.
    private var connection: UpstreamConnection?
    private var status: UInt = 0
    private var sent = 0
    private var retried = false
    private var done = false
    /// Whether the client's request has ended (its end part went by).
    var requestEnded = false

    /// An exchange for `request`, going to `target` with `upstreamHead` (plus the upgrade fields
    /// for an `upgrade`); `gate` hears once the client has the whole response (or the connection
    /// is closed), not once the connection became a tunnel (the gate is gone then).
    init(
        request: HTTPRequestHead, upstreamHead: HTTPRequestHead, upgrade: UpgradeRequest? = nil, target: UpstreamTarget, url: RequestLogLine.URLParts,
        context: ChannelHandlerContext, upstream: UpstreamClient, logger: Logger, gate: RequestGate
    ) {
        self.request = request
        self.upgrade = upgrade
        var upstreamHead = upstreamHead
        if upgrade != nil { HTTPConversion.keepUpgrade(&upstreamHead.headers, from: request.headers) }
        self.upstreamHead = upstreamHead
        self.target = target
        self.url = url
        self.context = context
        self.upstream = upstream
        self.logger = logger
        self.gate = gate
    }

    /// Sends the request on an idle pooled connection, else on a new one (always, for an upgrade).
    func start() {
        if upgrade == nil, let pooled = upstream.idleConnection(to: target, on: context.eventLoop), pooled.begin(upstreamHead, sink: self) {
            connection = pooled
            return
        }
        connectAndSend()
    }

    /// The client's channel can take writes again: the upstream may be read again.
    func clientWritable() {
        control?.resumeReads()
    }

    /// The client went away: the exchange ends, and the upstream connection with it unless the
    /// response is already over (before the response head: the connection closes, so an origin
    /// that takes its time, a long poll say, does not keep it for nobody).
    func clientGone() {
        guard !done else { return }
        done = true
        if let control {
            control.abandon()
        } else {
            connection?.close()
        }
        log(error: "the client went away")
    }

    func receivedHead(_ head: HTTPResponseHead, control: UpstreamExchangeControl) {
        self.control = control
        status = head.status.code
        if switchesProtocols {
            var switching = HTTPConversion.clientHead(forwarding: head, version: request.version)
            HTTPConversion.keepUpgrade(&switching.headers, from: head.headers)
            context.writeAndFlush(NIOAny(HTTPServerResponsePart.head(switching)), promise: nil)
            return
        }
        var clientHead = HTTPConversion.clientHead(forwarding: head, version: request.version)
        if !request.isKeepAlive { clientHead.headers.replaceOrAdd(name: "Connection", value: "close") }
        context.write(NIOAny(HTTPServerResponsePart.head(clientHead)), promise: nil)
    }

    func receivedBody(_ chunk: ByteBuffer) -> Bool {
        sent += chunk.readableBytes
        context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(chunk))), promise: nil)
        return context.channel.isWritable
    }

    func readComplete() {
        context.flush()
    }

    func receivedEnd() {
        if switchesProtocols, let connection {
            done = true
            UpgradeTunnel.start(client: context.channel, upstream: connection.channel) { up, down in
                self.log(error: nil, tunnel: (up, down))
            }
            return
        }
        RequestGate.endResponse(context, closing: !request.isKeepAlive, gate: gate)
        // A connection of an upgrade's own is never reused.
        if upgrade != nil { connection?.close() }
        end(error: nil)
    }

    /// Whether the origin accepted the upgrade the request asked for.
    private var switchesProtocols: Bool {
        upgrade != nil && status == HTTPResponseStatus.switchingProtocols.code
    }

    func failed(_ error: any Error) {
        if error is StaleConnection, !retried, status == 0 {
            // The pooled connection was closed by the origin while idle: the request never got there.
            retried = true
            return connectAndSend()
        }
        guard status != 0 else {
            answerBadGateway(error)
            return end(error: error)
        }
        end(error: error)
        // The client has part of a response: only closing tells it the rest will not come.
        context.close(promise: nil)
    }

    private func connectAndSend() {
        upstream.connect(to: target, on: context.eventLoop, pooled: upgrade == nil).assumeIsolated().whenComplete { result in
            switch result {
            case .success(let connection):
                guard !self.done else { return connection.close() }  // the client is gone already
                if connection.begin(self.upstreamHead, sink: self) {
                    self.connection = connection
                } else {
                    self.failed(UpstreamError("\(self.target) closed the new connection"))
                }
            case .failure(let error):
                self.failed(error)
            }
        }
    }

    private func answerBadGateway(_ error: any Error) {
        let response = ProxyResponses.upstreamFailed(target.description, error)
        let message = response.body.inMemory ?? ByteBuffer()
        var head = HTTPConversion.clientHead(response.head, version: request.version, knownLength: message.readableBytes)
        if !request.isKeepAlive { head.headers.replaceOrAdd(name: "Connection", value: "close") }
        status = head.status.code
        sent = message.readableBytes
        context.write(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
        context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(message))), promise: nil)
        RequestGate.endResponse(context, closing: !request.isKeepAlive, gate: gate)
    }

    /// Logs the decision line and hands the connection back to the gate.
    private func end(error: (any Error)?) {
        guard !done else { return }
        done = true
        log(error: error.map { "\($0)" })
        gate?.served(requestEnded: requestEnded, context: context)
    }

    /// The decision line of the exchange; a `tunnel`'s with the bytes that went through it.
    private func log(error: String?, tunnel: (up: Int, down: Int)? = nil) {
        var line = RequestLogLine(
            method: request.method.rawValue, url: url, rule: nil, action: .forward(target), status: status, bytes: sent,
            started: started, error: error
        )
        if let upgrade, let tunnel {
            line.add("upgrade", upgrade.protocols)
            line.add("bytes_up", tunnel.up)
            line.add("bytes_down", tunnel.down)
        }
        line.log(to: logger)
    }
}
