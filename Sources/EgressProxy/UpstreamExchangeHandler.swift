import NIOCore
import NIOHTTP1
import Workers

#if canImport(Glibc)
import Glibc
#endif

/// Where the response of an upstream exchange goes, part by part, on the connection's event loop.
protocol UpstreamResponseSink: AnyObject {
    /// The final response head (interim `1xx` ones are skipped; `101` is final). `control`
    /// resumes paused reads and abandons the exchange.
    func receivedHead(_ head: HTTPResponseHead, control: UpstreamExchangeControl)
    /// A chunk of the body; false pauses reading from the upstream until ``UpstreamExchangeControl/resumeReads()``.
    func receivedBody(_ chunk: ByteBuffer) -> Bool
    /// The parts read from the socket so far have been passed on (a moment to flush).
    func readComplete()
    /// The response ended.
    func receivedEnd()
    /// The exchange failed, before or during the response (``StaleConnection`` when the request
    /// never reached the origin and may be sent again).
    func failed(_ error: any Error)
}

/// What a sink may do to its exchange, from the connection's event loop.
struct UpstreamExchangeControl: Sendable {
    fileprivate let handler: NIOLoopBound<UpstreamExchangeHandler>
    fileprivate let exchange: Int

    /// Reads again after the sink paused them.
    func resumeReads() {
        handler.value.resumeReads()
    }

    /// Gives up the exchange before its response ended: the connection closes (the rest of the
    /// response could never be read).
    func abandon() {
        handler.value.abandon(exchange: exchange)
    }
}

/// The exchanges of one upstream HTTP/1.1 connection, one at a time, on its event loop: it sends
/// a request's head (and a body already in memory), passes the response to the exchange's sink
/// (with read gating for backpressure), and says when the connection may carry the next request.
/// No task of its own.
final class UpstreamExchangeHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    private enum State {
        /// No exchange: the connection may be reused.
        case idle
        case awaitingHead(any UpstreamResponseSink, replayable: Bool)
        case responding(any UpstreamResponseSink)
        /// The response ended before the request did (an early answer to an upload).
        case answered
        /// The origin switched protocols (`101`): what follows is not HTTP, the connection is
        /// never reused, and its new owner takes the HTTP handlers out (``UpgradeTunnel``).
        case switched(any UpstreamResponseSink)
        case closed
    }

    private let target: UpstreamTarget
    /// How long the origin may take to start its response once the request has gone out.
    private let responseTimeout: TimeAmount
    /// Runs while the current exchange awaits its response head; cancelled when the head comes,
    /// the connection closes or a new timer starts, so it never fires for another exchange.
    private var responseTimer: NIOScheduledCallback?
    private var state = State.idle
    private var context: ChannelHandlerContext?
    /// Counts exchanges, so that the sink of an earlier exchange cannot act on a later one.
    private var exchange = 0
    private var requestSent = true
    private var responseKeepAlive = false
    /// Anything read since the request went out (a kept-alive connection that closes before that
    /// never saw the request, so it can be sent again elsewhere).
    private var receivedAny = false
    private var readsPaused = false
    private var readPending = false
    private var failure: (any Error)?
    private var reusable: (() -> Void)?
    /// The request went out incomplete: the connection closes after this exchange.
    private var reuseForbidden = false

    /// Adds the HTTP/1.1 client codec and an exchange handler for `target` to an upstream
    /// connection's pipeline (after its TLS handler, if any).
    ///
    /// Outbound header validation is off: request heads come from the client's parsed head (the
    /// parser refuses what the validator would) or from swift-http-types fields (legal by
    /// construction), and validating them again cost a twentieth of a forwarded request.
    static func install(
        on pipeline: ChannelPipeline.SynchronousOperations, target: UpstreamTarget,
        responseTimeout: TimeAmount = UpstreamClient.defaultResponseTimeout
    ) throws {
        // The decoder hands on the bytes it holds past a 101 when an upgrade tunnel removes it.
        try pipeline.addHTTPClientHandlers(leftOverBytesStrategy: .forwardBytes, enableOutboundHeaderValidation: false)
        try pipeline.addHandler(UpstreamExchangeHandler(target: target, responseTimeout: responseTimeout))
    }

    init(target: UpstreamTarget, responseTimeout: TimeAmount = UpstreamClient.defaultResponseTimeout) {
        self.target = target
        self.responseTimeout = responseTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// Starts an exchange: writes `head`, and `body` and the end if the body is in memory (nil:
    /// the sender streams it, then calls ``endRequest()``). `reusable` is called once both the
    /// request and a kept-alive response have ended. False if the connection is closed or busy.
    func begin(
        _ head: HTTPRequestHead, body: [ByteBuffer]?, sink: any UpstreamResponseSink, reusable: @escaping () -> Void
    ) -> Bool {
        guard case .idle = state, let context else { return false }
        exchange += 1
        // Sent again elsewhere only if nothing can have come of it: a body in memory, on a
        // connection that already carried an exchange (a kept-alive one the origin may have closed
        // meanwhile), and a method that may be repeated (RFC 9110 9.2.2).
        state = .awaitingHead(sink, replayable: body != nil && exchange > 1 && Self.idempotent.contains(head.method))
        requestSent = body != nil
        receivedAny = false
        self.reusable = reusable
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        guard let body else {
            context.flush()
            return true
        }
        for chunk in body {
            context.write(wrapOutboundOut(.body(.byteBuffer(chunk))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        startResponseTimer(context)
        return true
    }

    /// From the end of the request: an origin that has not started its response within
    /// ``responseTimeout`` fails the exchange (the client gets a 502 naming the origin) and the
    /// connection closes. (A streamed upload is not timed while it is being sent.)
    private func startResponseTimer(_ context: ChannelHandlerContext) {
        guard case .awaitingHead = state else { return }
        cancelResponseTimer()
        // Scheduling fails only on a loop that is shutting down, which closes its channels.
        responseTimer = try? context.eventLoop.scheduleCallback(
            in: responseTimeout, handler: ResponseTimeout(handler: NIOLoopBound(self, eventLoop: context.eventLoop))
        )
    }

    /// The response timer's callback: a scheduled callback costs no promise and no closure, as a
    /// scheduled task would for every request (and, this small, no box either).
    private struct ResponseTimeout: NIOScheduledCallbackHandler, Sendable {
        let handler: NIOLoopBound<UpstreamExchangeHandler>

        func handleScheduledCallback(eventLoop: some EventLoop) {
            handler.value.responseTimedOut()
        }
    }

    private func responseTimedOut() {
        responseTimer = nil
        guard case .awaitingHead = state, let context else { return }
        let seconds = Double(responseTimeout.nanoseconds) / 1e9
        fail(context, UpstreamError("\(target) did not answer within \(seconds) s"))
    }

    private func cancelResponseTimer() {
        responseTimer?.cancel()
        responseTimer = nil
    }

    /// A streamed request body could not be sent in full (the origin stopped reading): nothing
    /// more is sent, the connection is not reused, and the origin's answer, if it gives one, is
    /// still passed on (bounded by the response timeout).
    func requestCut() {
        guard let context, !requestSent else { return }
        requestSent = true
        reuseForbidden = true
        if case .answered = state { exchangeEnded(context) }
        startResponseTimer(context)
    }

    /// Ends a streamed request body.
    func endRequest() {
        guard let context, !requestSent else { return }
        requestSent = true
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        if case .answered = state { exchangeEnded(context) }
        startResponseTimer(context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        receivedAny = true
        switch (unwrapInboundIn(data), state) {
        case (.head(let head), .awaitingHead(let sink, _)):
            // Interim responses (100 Continue and the like) are not the answer; 101 is.
            guard head.status.code / 100 != 1 || head.status.code == 101 else { return }
            cancelResponseTimer()
            responseKeepAlive = head.isKeepAlive
            state = head.status == .switchingProtocols ? .switched(sink) : .responding(sink)
            let control = UpstreamExchangeControl(handler: NIOLoopBound(self, eventLoop: context.eventLoop), exchange: exchange)
            sink.receivedHead(head, control: control)
        case (.body(let chunk), .responding(let sink)):
            if !sink.receivedBody(chunk) { readsPaused = true }
        case (.end, .responding(let sink)):
            // Back in the pool first: whoever the sink answers may send its next request at once.
            state = .answered
            exchangeEnded(context)
            sink.receivedEnd()
        case (.end, .switched(let sink)):
            // The end of the 101's head: the sink may now take the connection over, removing this
            // handler. If it did not, the connection carries nothing more.
            sink.receivedEnd()
            if self.context != nil {
                state = .closed
                context.close(promise: nil)
            }
        default:
            fail(context, UpstreamError("\(target) sent a response part out of turn"))
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if case .responding(let sink) = state { sink.readComplete() }
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if readsPaused {
            readPending = true
        } else {
            context.read()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context, error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelResponseTimer()
        let reason = failure.map { "\(target): \($0)" }
        switch state {
        case .awaitingHead(let sink, let replayable):
            // Closed, or reset as the request hit a socket the origin had closed while idle:
            // either way nothing came back, and a repeatable request may go again elsewhere.
            if replayable && !receivedAny && (failure == nil || Self.isReset(failure)) {
                sink.failed(StaleConnection(reason: reason ?? "closed before sending a response"))
            } else {
                sink.failed(UpstreamError(reason ?? "\(target) closed before sending a response"))
            }
        case .responding(let sink):
            sink.failed(UpstreamError(reason ?? "\(target) closed the connection in the middle of the body"))
        case .switched(let sink):
            sink.failed(UpstreamError(reason ?? "\(target) closed the connection as it switched protocols"))
        case .idle, .answered, .closed:
            break
        }
        state = .closed
        reusable = nil
        context.fireChannelInactive()
    }

    fileprivate func resumeReads() {
        readsPaused = false
        guard readPending, let context else { return }
        readPending = false
        context.read()
    }

    /// The sink gave up before the response ended: the connection cannot carry another request.
    fileprivate func abandon(exchange: Int) {
        guard exchange == self.exchange, let context else { return }
        switch state {
        case .responding, .switched: fail(context, UpstreamError("the reader of the response went away"))
        case .idle, .awaitingHead, .answered, .closed: break
        }
    }

    /// The response ended: once the request has ended too, the connection goes back to the
    /// pool if both sides keep it alive, else it closes.
    private func exchangeEnded(_ context: ChannelHandlerContext) {
        resumeReads()
        guard requestSent else { return }
        state = .idle
        let reusable = self.reusable
        self.reusable = nil
        if responseKeepAlive && !reuseForbidden {
            reusable?()
        } else {
            state = .closed
            context.close(promise: nil)
        }
    }

    private static let idempotent: [HTTPMethod] = [.GET, .HEAD, .OPTIONS, .TRACE, .PUT, .DELETE]

    /// Whether `error` is the peer resetting the connection (or refusing a write to it).
    private static func isReset(_ error: (any Error)?) -> Bool {
        guard let error = error as? IOError else { return false }
        return error.errnoCode == ECONNRESET || error.errnoCode == EPIPE
    }

    private func fail(_ context: ChannelHandlerContext, _ error: any Error) {
        if failure == nil { failure = error }
        context.close(promise: nil)
    }
}

/// A kept-alive connection turned out closed before the request could be delivered; sending it
/// again on a new connection is safe.
struct StaleConnection: Error, CustomStringConvertible {
    let reason: String

    var description: String { "the kept-alive connection was closed by the origin (\(reason))" }
}
