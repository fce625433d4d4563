import NIOCore
import NIOHTTP1
import Workers

/// Sits in front of the exchange loop of an HTTP connection and serves the requests without a
/// body itself, on the event loop, as each head arrives (routed by the rules as they are then):
/// one that goes straight out to its original destination is forwarded by a ``DirectExchange``
/// (no task, no conversion to swift-http-types), one for a handler is answered by a
/// ``HandlerExchange`` (one task, writing straight to the channel). A request that asks to switch
/// protocols and goes out is a ``DirectExchange`` too, on a connection of its own, and may turn
/// the connection into a tunnel (which takes the gate out of the pipeline). Every other request
/// (with a body, denied) passes on to the exchange loop, which routes it again; an upgrade
/// request with a body (rare: h2c) is forwarded there as a plain request, without its upgrade
/// fields.
///
/// Requests are served one at a time, in order: parts that arrive while one is in flight wait
/// here (and reads stop) until its response has ended, the exchange loop's or the gate's own.
/// After a request that stopped the decoder (an upgrade not tunnelled, a `CONNECT`), the gate
/// restarts the codec once that request and its response have ended (``HTTPServerCodec``); from
/// the end of such a request until then (or until a tunnel takes over), the client's input waits
/// in front of the decoder (``InputHold``), its end of input included, which thus never waits here.
final class RequestGate: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        /// The exchange loop has the request; `requestEnded` once its end went by,
        /// `responseEnded` once the loop's response ended (before the request did: an early
        /// answer, whose remaining body the loop still reads and drops).
        case delegated(requestEnded: Bool, responseEnded: Bool)
        case serving(any GateExchange)
        /// The gate answered a request whose end has not arrived yet: its parts are dropped.
        case answeredEarly
    }

    /// An inbound event held back until the requests before it are served.
    private enum HeldEvent {
        case inputClosed
        case error(any Error)
    }

    private let services: ProxyServices
    private let connection: ConnectionContext
    private var state = State.idle
    /// Parts of later requests that arrived while one was in flight, in order.
    private var waiting = CircularBuffer<HTTPServerRequestPart>()
    private var readPending = false
    /// Events that came while requests were in flight here: passed on after them.
    private var held: [HeldEvent] = []
    private var draining = false
    /// The write of the last response's end: held events (the client's end of input above all,
    /// on which the exchange loop closes the connection) go on only once it completed, as closing
    /// sooner would drop the tail of the response still queued.
    private var responseEndWrite: EventLoopFuture<Void>?
    /// The request in flight stopped the decoder: the codec restarts once it is served.
    private var codecStopped = false
    /// The request arriving (perhaps behind others still in flight) stops the decoder at its end.
    private var arrivingStopsDecoder = false
    /// What handlers called for this connection's requests are given: the same for each, made
    /// once.
    private lazy var invocation = WorkerInvoker.invocation(connection: connection, services: services)

    init(services: ProxyServices, connection: ConnectionContext) {
        self.services = services
        self.connection = connection
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        noteDecoderStop(part, context: context)
        guard waiting.isEmpty else { return waiting.append(part) }
        if !take(part, context: context) { waiting.append(part) }
        if case .idle = state, !held.isEmpty { drain(context: context) }
    }

    func read(context: ChannelHandlerContext) {
        if waiting.isEmpty { context.read() } else { readPending = true }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .end = unwrapOutboundIn(data) else { return context.write(data, promise: promise) }
        let written = promise ?? context.eventLoop.makePromise()
        responseEndWrite = written.futureResult
        context.write(data, promise: written)
        guard case .delegated(let requestEnded, _) = state else { return }
        if requestEnded {
            // The exchange loop's response is out: the next request may be routed.
            becomeIdle(context: context)
            drain(context: context)
        } else {
            // Answered before the request ended: the rest of its body still goes to the loop.
            state = .delegated(requestEnded: false, responseEnded: true)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let channelEvent = event as? ChannelEvent, case .inputClosed = channelEvent, isHoldingRequests {
            return held.append(.inputClosed)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A malformed request after one in flight here is answered after it, not before.
        guard isHoldingRequests else { return context.fireErrorCaught(error) }
        held.append(.error(error))
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if case .serving(let exchange) = state, context.channel.isWritable { exchange.clientWritable() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .serving(let exchange) = state { exchange.clientGone() }
        waiting.removeAll()
        context.fireChannelInactive()
    }

    /// The decoder stops at the end of a request that asks to switch protocols or `CONNECT`s
    /// (whenever it is served): from then on the client's input waits in front of it, so that its
    /// end does not make the decoder drop the bytes it holds for the tunnel or the restarted codec.
    private func noteDecoderStop(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            arrivingStopsDecoder = HTTPServerCodec.stopsParsing(after: head)
        case .end where arrivingStopsDecoder:
            arrivingStopsDecoder = false
            HTTPServerCodec.stopped(context.pipeline.syncOperations)
        case .body, .end:
            break
        }
    }

    /// Whether requests are in flight here, or wait here, so the exchange loop must not yet
    /// hear that the client's input ended.
    private var isHoldingRequests: Bool {
        switch state {
        case .serving, .answeredEarly: return true
        case .idle, .delegated: return !waiting.isEmpty || !held.isEmpty
        }
    }

    /// Handles a part in the current state; false if it belongs to a later request.
    private func take(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) -> Bool {
        switch (state, part) {
        case (.idle, .head(let head)):
            codecStopped = HTTPServerCodec.stopsParsing(after: head)
            if let exchange = exchange(for: head, context: context) {
                state = .serving(exchange)
                exchange.start()
            } else {
                state = .delegated(requestEnded: false, responseEnded: false)
                context.fireChannelRead(wrapInboundOut(part))
            }
            return true
        case (.delegated(requestEnded: false, let responseEnded), _):
            if case .end = part {
                if responseEnded { becomeIdle(context: context) } else { state = .delegated(requestEnded: true, responseEnded: false) }
            }
            context.fireChannelRead(wrapInboundOut(part))
            return true
        case (.answeredEarly, .end):
            becomeIdle(context: context)
            return true
        case (.idle, _), (.answeredEarly, _):
            // The rest of a request that was already answered.
            return true
        case (.serving(let exchange), .end) where !exchange.requestEnded:
            exchange.requestEnded = true
            return true
        case (.serving(let exchange), .body) where !exchange.requestEnded:
            // A body the head did not announce: the request cannot be framed.
            context.close(promise: nil)
            return true
        case (.delegated(requestEnded: true, _), _), (.serving, _):
            return false
        }
    }

    /// Routes the waiting parts once nothing is in flight, then reads again.
    private func drain(context: ChannelHandlerContext) {
        guard !draining else { return }
        draining = true
        defer { draining = false }
        var passedOn = false
        while let part = waiting.first, take(part, context: context) {
            waiting.removeFirst()
            if case .delegated = state { passedOn = true }
        }
        // The exchange loop reads what was passed on once the read is complete.
        if passedOn { context.fireChannelReadComplete() }
        guard waiting.isEmpty else { return }
        if case .idle = state, !held.isEmpty {
            let events = held
            held = []
            let release = {
                for event in events {
                    switch event {
                    case .inputClosed: context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
                    case .error(let error): context.fireErrorCaught(error)
                    }
                }
            }
            if let pending = responseEndWrite { pending.assumeIsolated().whenComplete { _ in release() } } else { release() }
        }
        if readPending {
            readPending = false
            context.read()
        }
    }

    /// The gate's own exchange for `head`, if the gate serves it.
    private func exchange(for head: HTTPRequestHead, context: ChannelHandlerContext) -> (any GateExchange)? {
        guard !HTTPExchangeLoop.hasBody(head), head.method != .CONNECT else { return nil }
        var authority = head.headers.first(name: "host")
        var path = head.uri
        if let absolute = AbsoluteURL(head.uri) {
            authority = absolute.authority
            path = absolute.path
        }
        switch RequestRouter.route(hostname: authority.map(HTTPConversion.hostname(ofAuthority:)), connection: connection, services: services) {
        case .handler(let worker, let rule):
            // A head swift-http-types cannot represent goes to the loop, which answers 400.
            guard let request = try? HTTPConversion.request(head, scheme: connection.scheme) else { return nil }
            return HandlerExchange(
                head: head, request: Request(head: request), worker: worker, rule: rule, context: context,
                connection: connection, invocation: invocation, gate: self
            )
        case .forward(let target):
            return DirectExchange(
                request: head, upstreamHead: HTTPConversion.upstreamHead(forwarding: head, authority: authority, path: path),
                upgrade: UpgradeRequest(head: head), target: target, url: .init(scheme: connection.scheme, authority: authority, path: path),
                context: context, upstream: services.upstream, logger: connection.logger, gate: self
            )
        case .deny:
            return nil
        }
    }

    /// Ends a response that an exchange of the gate wrote; with `closing`, the connection closes
    /// once the end (and everything before it) has gone out, not before.
    static func endResponse(_ context: ChannelHandlerContext, closing: Bool, gate: RequestGate?) {
        let written = context.eventLoop.makePromise(of: Void.self)
        gate?.responseEndWrite = written.futureResult
        if closing {
            let channel = context.channel
            written.futureResult.whenComplete { _ in channel.close(promise: nil) }
        }
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: written)
    }

    /// The gate's exchange is over.
    func served(requestEnded: Bool, context: ChannelHandlerContext) {
        if requestEnded { becomeIdle(context: context) } else { state = .answeredEarly }
        drain(context: context)
    }

    /// A request and its response have both ended; one that stopped the decoder gets a fresh codec
    /// (its response is out by now, through the old encoder).
    private func becomeIdle(context: ChannelHandlerContext) {
        state = .idle
        guard codecStopped else { return }
        codecStopped = false
        HTTPServerCodec.restart(context.channel)
    }
}
