import NIOCore

/// Stands right in front of an HTTP decoder (on the head's side of it) and, while held, keeps the
/// connection's input from going on: reads wait, and so does the end of the input (a half-close,
/// `ChannelEvent.inputClosed`).
///
/// NIO's HTTP decoder stops parsing after a request that asks to switch protocols, a `CONNECT`, or
/// a `101` answering one; when it is removed (which NIO does on a later turn of the event loop) it
/// hands the bytes it holds past them to the next handler: the tunnel's relay, or a fresh decoder.
/// But only if the end of the input has not reached it first: on the end of the input it drops
/// them, and its removal then hands on nothing. So from the moment the decoder stops until its
/// removal is complete, the end of the input waits here, and goes on afterwards, behind the bytes.
/// Reads wait too, so that a client cannot pile bytes up in the stopped decoder meanwhile.
///
/// Holds nest: each ``hold()`` is matched by one ``release()``, and the input goes on when the
/// last one is released (a restarted decoder may stop again on a request it parses from the bytes
/// it was handed, before the restart that releases the first hold has completed).
final class InputHold: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer

    private var context: ChannelHandlerContext?
    private var holds = 0
    private var inputClosed = false
    private var readPending = false

    /// A hold, `held` times held from the start (`release()` once for each).
    init(held: Int = 0) {
        holds = held
    }

    /// The hold in `pipeline`, if it has one.
    static func of(_ pipeline: ChannelPipeline.SynchronousOperations) -> InputHold? {
        try? pipeline.handler(type: InputHold.self)
    }

    /// From now on the input waits, until the matching ``release()``.
    func hold() {
        holds += 1
    }

    /// Ends a hold; the last one lets a read that waited go out, and an end of input that came
    /// meanwhile go on, from here, to whatever now follows.
    func release() {
        guard holds > 0 else { return }
        holds -= 1
        guard holds == 0, let context else { return }
        if inputClosed {
            inputClosed = false
            context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        }
        if readPending {
            readPending = false
            context.read()
        }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if holds > 0, let event = event as? ChannelEvent, case .inputClosed = event {
            inputClosed = true
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func read(context: ChannelHandlerContext) {
        if holds > 0 { readPending = true } else { context.read() }
    }
}
