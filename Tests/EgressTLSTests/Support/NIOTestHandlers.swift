import EgressTLS
import NIOCore
import NIOTLS

/// Collects what a real (socket) channel's ``TLSHandler`` delivers and reports it through
/// promises: the handshake result, and the received text once it contains a marker.
final class TextCollector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let handshake: EventLoopPromise<TLSHandshakeResult>
    private let text: EventLoopPromise<String>
    private let marker: String
    private var received = ""

    init(handshake: EventLoopPromise<TLSHandshakeResult>, text: EventLoopPromise<String>, until marker: String) {
        self.handshake = handshake
        self.text = text
        self.marker = marker
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        reportHandshake(event, context: context, to: handshake)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let chunk = String(buffer: unwrapInboundIn(data))
        received += chunk
        if chunk.contains(marker) {
            text.succeed(received)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        handshake.fail(error)
        text.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshake.fail(ChannelError.eof)
        text.fail(ChannelError.eof)
    }
}

/// Echoes each line back, then closes the connection (sending close_notify) once it has seen
/// `lines` of them; reports the handshake result.
final class LineEcho: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let handshake: EventLoopPromise<TLSHandshakeResult>
    private var linesLeft: Int

    init(handshake: EventLoopPromise<TLSHandshakeResult>, lines: Int) {
        self.handshake = handshake
        self.linesLeft = lines
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        reportHandshake(event, context: context, to: handshake)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        linesLeft -= buffer.readableBytesView.filter { $0 == UInt8(ascii: "\n") }.count
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        if linesLeft <= 0 {
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        handshake.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshake.fail(ChannelError.eof)
    }
}

/// Completes `promise` with the handshake result when `event` says the handshake completed.
private func reportHandshake(_ event: Any, context: ChannelHandlerContext, to promise: EventLoopPromise<TLSHandshakeResult>) {
    guard case .some(.handshakeCompleted) = event as? TLSUserEvent,
        let result = try? context.pipeline.syncOperations.handler(type: TLSHandler.self).handshakeResult
    else {
        return
    }
    promise.succeed(result)
}
