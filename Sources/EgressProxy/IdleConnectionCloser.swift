import NIOCore

/// Closes a client connection on which nothing has been read or written for the idle timeout
/// (a client that stalls in the middle of its headers, or a kept-alive connection left open).
/// Sits behind NIO's `IdleStateHandler`, which raises the event.
final class IdleConnectionCloser: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .all {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
