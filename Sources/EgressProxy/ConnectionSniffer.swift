import NIOCore

/// The first handler of every redirected connection: it holds the client's first bytes (up to a
/// size cap, for at most a timeout) until they tell what the connection speaks, reports that,
/// and goes on holding whatever arrives until ``release(_:)`` passes every held byte to the
/// handlers installed after it and leaves the pipeline.
///
/// A client that sends nothing before the timeout (a server-speaks-first protocol such as SMTP,
/// MySQL or SSH) is opaque TCP, not a stalled connection.
final class ConnectionSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// Called once with what was found; it must eventually ``release(_:)`` the sniffer or close.
    typealias Verdict = (SniffedProtocol, ChannelHandlerContext, ConnectionSniffer) -> Void

    private let limits: ProxyLimits
    private let verdict: Verdict
    private var bytes: ByteBuffer?
    private var timeout: Scheduled<Void>?
    private var decided = false
    /// The client half-closed while the sniffer held its bytes: passed on after them.
    private var inputClosed = false

    init(limits: ProxyLimits, verdict: @escaping Verdict) {
        self.limits = limits
        self.verdict = verdict
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { startTimer(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        startTimer(context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        if bytes == nil {
            bytes = chunk
        } else {
            bytes?.writeBuffer(&chunk)
        }
        guard !decided, let seen = bytes else { return }
        switch ProtocolSniffer.classify(seen) {
        case .needMoreBytes where seen.readableBytes < limits.sniffBytes:
            return
        case .needMoreBytes:
            decide(seen.getInteger(at: seen.readerIndex, as: UInt8.self) == 0x16 ? .malformedTLS("ClientHello too long") : .opaque, context)
        case let found:
            decide(found, context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let channelEvent = event as? ChannelEvent, case .inputClosed = channelEvent else {
            return context.fireUserInboundEventTriggered(event)
        }
        inputClosed = true
        guard !decided else { return }
        guard let seen = bytes, seen.readableBytes > 0 else {
            // Connected and closed without a byte (a port check, a cancelled connect): nothing to do.
            decided = true
            timeout?.cancel()
            context.close(promise: nil)
            return
        }
        switch ProtocolSniffer.classify(seen) {
        case .needMoreBytes: decide(.opaque, context)
        case let found: decide(found, context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timeout?.cancel()
        context.fireChannelInactive()
    }

    private func startTimer(_ context: ChannelHandlerContext) {
        guard timeout == nil else { return }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timeout = context.eventLoop.scheduleTask(in: limits.sniffTimeout) {
            let (sniffer, context) = loopBound.value
            // Silence, or a prefix that never became a request: not something to intercept.
            sniffer.decide(.opaque, context)
        }
    }

    private func decide(_ found: SniffedProtocol, _ context: ChannelHandlerContext) {
        guard !decided else { return }
        decided = true
        timeout?.cancel()
        verdict(found, context, self)
    }

    /// The bytes held so far, to look at (they stay held).
    var heldBytes: ByteBuffer? {
        bytes
    }

    /// The bytes held so far, now the caller's (for a relay that sends them itself).
    func takeHeldBytes() -> ByteBuffer? {
        defer { bytes = nil }
        return bytes
    }

    /// Passes the held bytes to the next handler and removes the sniffer from the pipeline.
    func release(_ context: ChannelHandlerContext) {
        if let held = bytes {
            bytes = nil
            context.fireChannelRead(wrapInboundOut(held))
            context.fireChannelReadComplete()
        }
        if inputClosed { context.fireUserInboundEventTriggered(ChannelEvent.inputClosed) }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
