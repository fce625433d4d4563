import NIOCore
import NIOHTTP1

/// Closes a client connection that has been idle (no request part read, no response part
/// written) for the idle timeout while no request is in flight: a client that stalls in the
/// middle of its headers, or a kept-alive connection left unused. A request being answered,
/// however slowly, is left alone. Sits after the HTTP codec.
///
/// It keeps the time of the last part and one timer per timeout period, instead of NIO's
/// `IdleStateHandler`, which attaches a promise and a callback to every write to learn when it
/// completed (three per small response) only to keep a timestamp this handler reads from the
/// clock.
final class IdleConnectionCloser: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let timeout: TimeAmount
    /// Requests whose response has not ended yet.
    private var inFlight = 0
    private var lastActivity = NIODeadline.uptimeNanoseconds(0)
    private var check: Scheduled<Void>?

    /// A closer for connections idle for `timeout`.
    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        check?.cancel()
        check = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        check?.cancel()
        check = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastActivity = context.eventLoop.now
        if case .head = unwrapInboundIn(data) { inFlight += 1 }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        lastActivity = context.eventLoop.now
        if case .end = unwrapOutboundIn(data) { inFlight = max(0, inFlight - 1) }
        context.write(data, promise: promise)
    }

    private func start(context: ChannelHandlerContext) {
        guard check == nil else { return }
        lastActivity = context.eventLoop.now
        schedule(context: context, at: lastActivity + timeout)
    }

    private func schedule(context: ChannelHandlerContext, at deadline: NIODeadline) {
        let closer = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        check = context.eventLoop.scheduleTask(deadline: deadline) {
            let (closer, context) = closer.value
            closer.timerFired(context: context)
        }
    }

    /// Closes the connection if it has been idle long enough, else looks again when it would be.
    private func timerFired(context: ChannelHandlerContext) {
        let now = context.eventLoop.now
        if inFlight == 0, now - lastActivity >= timeout {
            check = nil
            context.close(promise: nil)
        } else {
            schedule(context: context, at: inFlight > 0 ? now + timeout : lastActivity + timeout)
        }
    }
}
