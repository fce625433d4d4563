import NIOCore
import NIOHTTP1
import Workers

/// The exchanges of one upstream HTTP/1.1 connection, one at a time, on its event loop: it sends
/// a request's head (and a body already in memory), reads the response (a small body whole, a
/// larger one streamed to its reader with read gating for backpressure), and says when the
/// connection may carry the next request. No task of its own: the sender awaits a promise.
final class UpstreamExchangeHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    /// The largest response body read whole before the response is handed on.
    static let smallBodyLimit = 64 * 1024

    private enum State {
        /// No exchange: the connection may be reused.
        case idle
        case awaitingHead(EventLoopPromise<Response>, replayable: Bool)
        case collecting(HTTPResponseHead, ByteBuffer, EventLoopPromise<Response>)
        case streaming(UpstreamResponseBody.Producer.Source)
        /// The response ended before the request did (an early answer to an upload).
        case answered
        case closed
    }

    private let target: UpstreamTarget
    private var state = State.idle
    private var context: ChannelHandlerContext?
    /// Counts exchanges, so that the reader of an earlier response body cannot act on a later one.
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

    init(target: UpstreamTarget) {
        self.target = target
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
        _ head: HTTPRequestHead, body: [ByteBuffer]?, promise: EventLoopPromise<Response>, reusable: @escaping () -> Void
    ) -> Bool {
        guard case .idle = state, let context else { return false }
        exchange += 1
        state = .awaitingHead(promise, replayable: body != nil)
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
        return true
    }

    /// Ends a streamed request body.
    func endRequest() {
        guard let context, !requestSent else { return }
        requestSent = true
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        if case .answered = state { exchangeEnded(context) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        receivedAny = true
        switch (unwrapInboundIn(data), state) {
        case (.head(let head), .awaitingHead(let promise, _)):
            // Interim responses (100 Continue and the like) are not the answer; 101 is.
            guard head.status.code / 100 != 1 || head.status.code == 101 else { return }
            responseKeepAlive = head.isKeepAlive
            if Self.hasSmallBody(head) {
                state = .collecting(head, ByteBuffer(), promise)
                return
            }
            let source = streamBody(head, to: promise, context: context)
            state = .streaming(source)
        case (.body(var chunk), .collecting(let head, var collected, let promise)):
            state = .idle  // no second reference to `collected` while it grows
            collected.writeBuffer(&chunk)
            state = .collecting(head, collected, promise)
        case (.body(let chunk), .streaming(let source)):
            // `.dropped`: the reader is gone, and the connection closes when it says so.
            if source.yield(chunk) == .stopProducing { readsPaused = true }
        case (.end, .collecting(let head, let collected, let promise)):
            state = .answered
            promise.succeed(Response(head: HTTPConversion.response(head), body: Body(collected)))
            exchangeEnded(context)
        case (.end, .streaming(let source)):
            state = .answered
            source.finish()
            exchangeEnded(context)
        default:
            fail(context, UpstreamError("\(target) sent a response part out of turn"))
        }
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
        let reason = failure.map { "\(target): \($0)" }
        switch state {
        case .awaitingHead(let promise, let replayable):
            if replayable && !receivedAny {
                promise.fail(StaleConnection(reason: reason ?? "closed before sending a response"))
            } else {
                promise.fail(UpstreamError(reason ?? "\(target) closed before sending a response"))
            }
        case .collecting(_, _, let promise):
            promise.fail(UpstreamError(reason ?? "\(target) closed the connection in the middle of the body"))
        case .streaming(let source):
            source.finish(UpstreamError(reason ?? "\(target) closed the connection in the middle of the body"))
        case .idle, .answered, .closed:
            break
        }
        state = .closed
        reusable = nil
        context.fireChannelInactive()
    }

    /// Hands the response on with a body that streams, the reader's demand gating reads.
    private func streamBody(
        _ head: HTTPResponseHead, to promise: EventLoopPromise<Response>, context: ChannelHandlerContext
    ) -> UpstreamResponseBody.Producer.Source {
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let exchange = self.exchange
        let demand = UpstreamResponseBody.Demand(
            eventLoop: context.eventLoop,
            more: { handler.value.resumeReads() },
            terminated: { handler.value.readerGone(exchange: exchange) }
        )
        let (body, source) = UpstreamResponseBody.make(demand: demand)
        promise.succeed(Response(head: HTTPConversion.response(head), body: Body(body)))
        return source
    }

    private func resumeReads() {
        readsPaused = false
        guard readPending, let context else { return }
        readPending = false
        context.read()
    }

    /// The reader of a streamed body is done; before the body's end, the rest can never be
    /// read, so the connection cannot carry another request.
    private func readerGone(exchange: Int) {
        guard exchange == self.exchange, case .streaming = state, let context else { return }
        fail(context, UpstreamError("the reader of the response body went away"))
    }

    /// The response ended: once the request has ended too, the connection goes back to the
    /// pool if both sides keep it alive, else it closes.
    private func exchangeEnded(_ context: ChannelHandlerContext) {
        resumeReads()
        guard requestSent else { return }
        state = .idle
        let reusable = self.reusable
        self.reusable = nil
        if responseKeepAlive {
            reusable?()
        } else {
            state = .closed
            context.close(promise: nil)
        }
    }

    private func fail(_ context: ChannelHandlerContext, _ error: any Error) {
        if failure == nil { failure = error }
        context.close(promise: nil)
    }

    /// Whether the response announces a body of at most ``smallBodyLimit`` bytes by its length.
    private static func hasSmallBody(_ head: HTTPResponseHead) -> Bool {
        guard let length = head.headers.first(name: "content-length").flatMap(Int.init), length <= smallBodyLimit else {
            return false
        }
        return !head.headers.contains(name: "transfer-encoding")
    }
}

/// A kept-alive connection turned out closed before the request could be delivered; sending it
/// again on a new connection is safe.
struct StaleConnection: Error, CustomStringConvertible {
    let reason: String

    var description: String { "the kept-alive connection was closed by the origin (\(reason))" }
}
