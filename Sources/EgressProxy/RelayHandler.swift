import NIOCore

/// One side of a byte relay between two channels (the pass-through fallback where `splice`
/// cannot be used, and the tunnel of an accepted protocol upgrade): what one side reads, the
/// other writes. Reads stop while the other side cannot keep up (backpressure), half-closes are
/// passed on (inside TLS as close_notify; a side that cannot half-close is closed instead), and
/// either side closing closes both.
///
/// The relay owns its channel's input: neither the bytes nor the end of the input go on to the
/// handlers behind it (a task's async channel there would take the end of input for the end of
/// the connection and close it, cutting the other direction short).
final class RelayHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var partner: RelayHandler?
    private var context: ChannelHandlerContext?
    private var readPending = false
    /// What the partner asked of this side before it was released: done on release, in order.
    private var held: [HeldOperation]?
    /// Bytes this side has read (and handed to its partner).
    private(set) var bytesRead = 0

    /// A partner's request held until the side is released.
    private enum HeldOperation {
        case write(ByteBuffer)
        case flush
        case close(CloseMode)
    }

    private init(holding: Bool) {
        held = holding ? [] : nil
    }

    /// Two handlers relaying to each other; add one to each channel. `holding`: each side keeps
    /// what its partner writes (and the closes it asks for) until ``release()``, for a channel
    /// whose pipeline still has handlers in front of it that must not see bytes.
    static func pair(holding: Bool = false) -> (RelayHandler, RelayHandler) {
        let first = RelayHandler(holding: holding), second = RelayHandler(holding: holding)
        first.partner = second
        second.partner = first
        return (first, second)
    }

    /// Writes what the partner asked for meanwhile, and from now on writes at once.
    func release() {
        guard let operations = held else { return }
        held = nil
        for operation in operations {
            switch operation {
            case .write(let buffer): partnerWrite(buffer)
            case .flush: partnerFlush()
            case .close(let mode): partnerCloseAfterWrites(mode: mode)
            }
        }
        context?.flush()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        bytesRead += buffer.readableBytes
        partner?.partnerWrite(buffer)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.partnerFlush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.partnerCloseAfterWrites(mode: .all)
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            // The peer finished sending: finish sending to the other side too, after what is queued.
            partner?.partnerCloseAfterWrites(mode: .output)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.partnerBecameWritable() }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if partner?.partnerWritable ?? false {
            context.read()
        } else {
            readPending = true
        }
    }

    private func partnerWrite(_ buffer: ByteBuffer) {
        if held != nil {
            held?.append(.write(buffer))
            return
        }
        context?.write(wrapOutboundOut(buffer), promise: nil)
    }

    private func partnerFlush() {
        if held != nil {
            held?.append(.flush)
            return
        }
        context?.flush()
    }

    /// Closes (`mode`) once everything already written has gone out: an empty write completes
    /// after the writes queued before it. A channel that cannot close only its output closes
    /// altogether.
    private func partnerCloseAfterWrites(mode: CloseMode) {
        if held != nil {
            held?.append(.close(mode))
            return
        }
        guard let context else { return }
        let closing = context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(capacity: 0)))
        let channel = context.channel
        closing.whenComplete { _ in
            let closed = channel.close(mode: mode)
            if mode != .all { closed.whenFailure { _ in channel.close(promise: nil) } }
        }
    }

    private var partnerWritable: Bool {
        context?.channel.isWritable ?? false
    }

    private func partnerBecameWritable() {
        if readPending {
            readPending = false
            context?.read()
        }
    }
}
