import NIOCore

/// Ends a plain connection whose request the proxy refused before reading all of it (a malformed
/// or oversized head): after the answer it shuts its output, then reads and drops what the client
/// still sends until the client closes its side, a time limit passes or more than a byte limit
/// came (by default 5 s and 16 MiB), and only then closes. Closing with unread input would send a
/// reset, and a client still sending gets that reset instead of the answer (RFC 9112, 9.6).
///
/// Added to an active channel, at the front of the pipeline (before the HTTP codec, whose decoder has failed), so what
/// it drops never reaches a handler, and it asks for reads itself (the async channel behind the
/// codec has stopped asking).
final class LingeringClose: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let limit: TimeAmount
    private let byteLimit: Int
    private var dropped = 0
    private var deadline: Scheduled<Void>?

    /// Gives the client `limit` to close its side, and `byteLimit` bytes to send meanwhile.
    init(limit: TimeAmount = .seconds(5), byteLimit: Int = 16 << 20) {
        self.limit = limit
        self.byteLimit = byteLimit
    }

    func handlerAdded(context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        // Pending writes (the answer) go out before the output shuts.
        context.close(mode: .output, promise: nil)
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
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
        if case .some(.inputClosed) = event as? ChannelEvent {
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
