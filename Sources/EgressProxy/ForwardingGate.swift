import NIOCore
import NIOHTTP1
import Workers

/// Sits in front of the exchange loop of an HTTP connection and takes the requests that go
/// straight out to their original destination (no rule matches, internet on, a destination the
/// proxy dials, no request body) off its hands: those are forwarded on the event loop by a
/// ``DirectExchange``, without a task, a handler call or a conversion to swift-http-types. Every
/// other request passes on to the exchange loop, which routes it again (rules change live).
///
/// Requests are served one at a time, in order: parts that arrive while one is in flight wait
/// here (and reads stop) until its response has ended, the exchange loop's or the gate's own.
final class ForwardingGate: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        /// The exchange loop has the request; `requestEnded` once its end went by.
        case delegated(requestEnded: Bool)
        case forwarding(DirectExchange)
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

    init(services: ProxyServices, connection: ConnectionContext) {
        self.services = services
        self.connection = connection
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        guard waiting.isEmpty else { return waiting.append(part) }
        if !take(part, context: context) { waiting.append(part) }
        if case .idle = state, !held.isEmpty { drain(context: context) }
    }

    func read(context: ChannelHandlerContext) {
        if waiting.isEmpty { context.read() } else { readPending = true }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(data, promise: promise)
        if case .delegated = state, case .end = unwrapOutboundIn(data) {
            // The exchange loop's response is out: the next request may be routed.
            state = .idle
            drain(context: context)
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
        if case .forwarding(let exchange) = state, context.channel.isWritable { exchange.clientWritable() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .forwarding(let exchange) = state { exchange.clientGone() }
        waiting.removeAll()
        context.fireChannelInactive()
    }

    /// Whether requests are in flight here, or wait here, so the exchange loop must not yet
    /// hear that the client's input ended.
    private var isHoldingRequests: Bool {
        switch state {
        case .forwarding, .answeredEarly: return true
        case .idle, .delegated: return !waiting.isEmpty || !held.isEmpty
        }
    }

    /// Handles a part in the current state; false if it belongs to a later request.
    private func take(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) -> Bool {
        switch (state, part) {
        case (.idle, .head(let head)):
            if let exchange = directExchange(for: head, context: context) {
                state = .forwarding(exchange)
                exchange.start()
            } else {
                state = .delegated(requestEnded: false)
                context.fireChannelRead(wrapInboundOut(part))
            }
            return true
        case (.delegated(requestEnded: false), _):
            if case .end = part { state = .delegated(requestEnded: true) }
            context.fireChannelRead(wrapInboundOut(part))
            return true
        case (.answeredEarly, .end):
            state = .idle
            return true
        case (.idle, _), (.answeredEarly, _):
            // The rest of a request that was already answered.
            return true
        case (.forwarding(let exchange), .end) where !exchange.requestEnded:
            exchange.requestEnded = true
            return true
        case (.forwarding(let exchange), .body) where !exchange.requestEnded:
            // A body the head did not announce: the request cannot be framed.
            context.close(promise: nil)
            return true
        case (.delegated(requestEnded: true), _), (.forwarding, _):
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
        if case .idle = state {
            let events = held
            held = []
            for event in events {
                switch event {
                case .inputClosed: context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
                case .error(let error): context.fireErrorCaught(error)
                }
            }
        }
        if readPending {
            readPending = false
            context.read()
        }
    }

    /// A direct exchange for `head` if it goes straight to its original destination.
    private func directExchange(for head: HTTPRequestHead, context: ChannelHandlerContext) -> DirectExchange? {
        guard !head.headers.contains(name: "transfer-encoding"), !head.headers.contains(name: "upgrade"),
              head.headers.first(name: "content-length").map({ $0 == "0" }) ?? true, head.method != .CONNECT
        else { return nil }
        let snapshot = services.rules.snapshot
        guard snapshot.internet else { return nil }
        var authority = head.headers.first(name: "host")
        var path = head.uri
        if let absolute = AbsoluteURL(head.uri) {
            authority = absolute.authority
            path = absolute.path
        }
        let hostname = authority.map(HTTPConversion.hostname(ofAuthority:)) ?? connection.serverName
        let destination = connection.destination
        let table = connection.scheme == "https" ? snapshot.https : snapshot.http
        guard table.match(hostname: hostname, address: destination.address, port: destination.port) == nil,
              services.destinationGuard.refusal(for: destination) == nil
        else { return nil }
        let target = UpstreamTarget(
            host: connection.destinationHost, port: Int(destination.port), usesTLS: connection.scheme == "https", serverName: hostname
        )
        return DirectExchange(
            request: head, upstreamHead: HTTPConversion.upstreamHead(forwarding: head, authority: authority, path: path),
            target: target, url: "\(connection.scheme)://\(authority ?? "")\(path)", context: context,
            upstream: services.upstream, logger: connection.logger
        ) { [weak self] requestEnded in
            self?.forwarded(requestEnded: requestEnded, context: context)
        }
    }

    /// A direct exchange is over.
    private func forwarded(requestEnded: Bool, context: ChannelHandlerContext) {
        state = requestEnded ? .idle : .answeredEarly
        drain(context: context)
    }
}
