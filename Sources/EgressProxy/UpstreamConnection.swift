import NIOCore
import NIOHTTP1
import Synchronization
import Workers

/// One HTTP/1.1 connection to an upstream, serving one request at a time.
///
/// The sender drives the exchange itself: the request head (and a body already in memory) goes
/// out through the connection's ``UpstreamExchangeHandler``, a streamed body chunk by chunk with
/// each write awaited (backpressure), and the response comes back through a promise once its
/// head (and a small body) arrived. The connection is offered for reuse once both sides ended and
/// kept it alive. Sent from the connection's own event loop, nothing leaves that thread.
final class UpstreamConnection: Sendable {
    let target: UpstreamTarget
    /// The connection's channel (an ``UpgradeTunnel`` takes it over).
    let channel: any Channel
    private let handler: NIOLoopBound<UpstreamExchangeHandler>
    private let closed = Atomic<Bool>(false)
    private let idle: (@Sendable (UpstreamConnection) -> Void)?

    /// Serves `channel`, whose pipeline ends with `handler`; `idle` is called each time the
    /// connection may be reused; without it the connection is never reused (a request sent with
    /// ``send(_:)`` says `Connection: close`; one begun with ``begin(_:sink:)`` is the
    /// caller's to close).
    init(
        target: UpstreamTarget, channel: any Channel, handler: NIOLoopBound<UpstreamExchangeHandler>,
        idle: (@Sendable (UpstreamConnection) -> Void)?
    ) {
        self.target = target
        self.channel = channel
        self.handler = handler
        self.idle = idle
        // An origin that closes an idle kept-alive connection is noticed here, before reuse.
        channel.closeFuture.whenComplete { [self] _ in
            closed.store(true, ordering: .releasing)
        }
    }

    /// Whether the connection has ended (its server closed it, or an exchange failed).
    var isClosed: Bool { closed.load(ordering: .acquiring) }

    /// Starts an exchange without a body from the connection's event loop, the response going
    /// to `sink`; false (nothing sent) if the connection is closed or busy.
    func begin(_ head: HTTPRequestHead, sink: any UpstreamResponseSink) -> Bool {
        handler.value.begin(head, body: [], sink: sink, reusable: { [self] in idle?(self) })
    }

    /// Closes the connection (an exchange on it fails; it is never reused).
    func close() {
        channel.close(promise: nil)
    }

    /// Sends `request` and returns the response once its head has arrived; the body follows.
    /// Throws ``StaleConnection`` when the connection turned out closed before anything of the
    /// request was consumed (sending it on another connection is then safe).
    func send(_ request: Request) async throws -> Response {
        let head = HTTPConversion.upstreamHead(request.head, knownLength: request.body.knownLength, close: idle == nil)
        let reusable: @Sendable () -> Void = { [self] in idle?(self) }
        // A body of known bytes goes out with its head in one write, and can be sent again.
        var inMemory: [ByteBuffer]?
        if request.body.knownLength != nil {
            var chunks: [ByteBuffer] = []
            for try await chunk in request.body { chunks.append(chunk) }
            inMemory = chunks
        }
        let body = inMemory
        let promise = channel.eventLoop.makePromise(of: Response.self)
        let started: Bool
        do {
            started = try await onLoop { $0.begin(head, body: body, sink: UpstreamPromiseSink(promise: promise), reusable: reusable) }
        } catch {
            promise.fail(error)
            throw error
        }
        guard started else {
            promise.fail(StaleConnection(reason: "closed before the request"))
            throw StaleConnection(reason: "closed before the request")
        }
        if inMemory == nil {
            try await stream(request.body)
        }
        return try await promise.futureResult.get()
    }

    /// Streams a request body out, each write awaited. The client going away ends the exchange
    /// (an error); the origin no longer reading does not: it may have answered early (a 413 and a
    /// close), and that answer, or the response timeout, ends it.
    private func stream(_ body: Body) async throws {
        do {
            for try await chunk in body {
                do {
                    try await channel.writeAndFlush(HTTPClientRequestPart.body(.byteBuffer(chunk))).get()
                } catch {
                    try await onLoop { $0.requestCut() }
                    return
                }
            }
        } catch {
            channel.close(promise: nil)
            throw UpstreamError("\(target): \(error)")
        }
        try await onLoop { $0.endRequest() }
    }

    /// Runs `body` with the handler on the connection's event loop, at once when already there.
    private func onLoop<Value: Sendable>(
        _ body: @escaping @Sendable (UpstreamExchangeHandler) -> Value
    ) async throws -> Value {
        let handler = self.handler
        if channel.eventLoop.inEventLoop { return body(handler.value) }
        return try await channel.eventLoop.submit { body(handler.value) }.get()
    }
}
