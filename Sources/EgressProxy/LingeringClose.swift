import EgressTLS
import NIOCore

/// Ends a connection whose request the proxy refused before reading all of it (a malformed or
/// oversized head): after the answer it shuts its output (inside intercepted TLS, after
/// close_notify), then reads and drops what the client still sends until the client closes its
/// side, a time limit passes or more than a byte limit came (by default 5 s and 16 MiB), and only
/// then closes. Closing with unread input would send a reset, and a client still sending gets
/// that reset instead of the answer (RFC 9112, 9.6).
///
/// It goes in front of the HTTP codec (whose decoder has failed), behind the TLS handler if there
/// is one, so what it drops never reaches a handler; it asks for reads itself, as the async
/// channel behind the codec no longer passes read requests on once its stream has ended. Reads it
/// drops are no activity for the idle closer: an idle timeout under 5 s ends the lingering first.
final class LingeringClose: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let limit: TimeAmount
    private let byteLimit: Int
    private var dropped = 0
    private var deadline: Scheduled<Void>?
    /// Completes once the answer is out and the output shut.
    private var outputClosed: EventLoopFuture<Void>?

    /// Adds a lingering close to an active connection's `pipeline`: first, or right behind its
    /// TLS handler.
    static func add(to pipeline: ChannelPipeline.SynchronousOperations) throws {
        let tls = try? pipeline.handler(type: TLSHandler.self)
        try pipeline.addHandler(LingeringClose(), position: tls.map { .after($0) } ?? .first)
    }

    /// Gives the client `limit` to close its side, and `byteLimit` bytes to send meanwhile.
    init(limit: TimeAmount = .seconds(5), byteLimit: Int = 16 << 20) {
        self.limit = limit
        self.byteLimit = byteLimit
    }

    func handlerAdded(context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        // Pending writes (the answer) go out before the output shuts.
        let outputClosed = context.eventLoop.makePromise(of: Void.self)
        context.close(mode: .output, promise: outputClosed)
        self.outputClosed = outputClosed.futureResult
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        // An output that could not be shut leaves nothing to linger for.
        outputClosed.futureResult.whenFailure { _ in loopBound.value.close(promise: nil) }
        deadline = context.eventLoop.scheduleTask(in: limit) { loopBound.value.close(promise: nil) }
        context.read()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        dropped += unwrapInboundIn(data).readableBytes
        if dropped > byteLimit { context.close(promise: nil) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if context.channel.isActive { context.read() }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case .some(.inputClosed) = event as? ChannelEvent else { return }
        // An answer the client has not taken in yet still goes out: a full close would drop it.
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        (outputClosed ?? context.eventLoop.makeSucceededVoidFuture()).whenComplete { _ in loopBound.value.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
