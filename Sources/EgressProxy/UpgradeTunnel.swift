import NIOCore
import NIOHTTP1

/// Turns a client connection and the upstream connection whose origin accepted the client's
/// request to switch protocols (`101 Switching Protocols`, already written to the client) into a
/// byte tunnel both ways, for whatever protocol they switched to (WebSocket, ...).
///
/// On each side the HTTP handlers leave the pipeline and a ``RelayHandler`` takes the place of
/// the decoder, so the bytes a decoder already held past the heads (a WebSocket frame sent right
/// behind the request, or right behind the 101) go through the tunnel first, in order. On the
/// client side the codec, the idle timeout and the ``RequestGate`` go (a tunnel, like a spliced
/// pass-through, has no idle timeout); the TLS handler of intercepted TLS stays, and so does the
/// exchange loop's async channel at the end of the pipeline, which the relay never feeds (its
/// task ends when the connection closes). NIO removes a decoder on a later turn of the event
/// loop: until both decoders are gone, the relays hold what their partners write to them, and an
/// ``InputHold`` in front of each decoder keeps its connection's end of input (and reads) back,
/// as a decoder that sees the end of input drops the bytes it holds. The client's hold has held
/// since its request ended (``HTTPServerCodec/stopped(_:)``: the client may half-close before the
/// 101 comes); the upstream's from here on, before the end of input can come: the tunnel starts
/// inside the read that brought the 101, and the origin's end of input behind it comes after.
///
/// Backpressure, half-closes and closing are the relay's: either connection closing closes the
/// other, and `ended` runs once both are closed, with the bytes that went up (client to origin)
/// and down.
enum UpgradeTunnel {
    /// Starts the tunnel, on the event loop both channels share.
    static func start(client: any Channel, upstream: any Channel, ended: @escaping (_ up: Int, _ down: Int) -> Void) {
        let (clientSide, upstreamSide) = RelayHandler.pair(holding: true)
        do {
            let clientPipeline = client.pipeline.syncOperations
            let clientReady = try handOver(
                clientPipeline, decoder: ByteToMessageHandler<HTTPRequestDecoder>.self, to: clientSide,
                removing: [
                    try? clientPipeline.handler(type: HTTPResponseEncoder.self),
                    try? clientPipeline.handler(type: HTTPServerUpgradeHandler.self),
                    try? clientPipeline.handler(type: IdleConnectionCloser.self),
                    try? clientPipeline.handler(type: RequestGate.self),
                ]
            )
            let clientHold = InputHold.of(clientPipeline)
            let upstreamPipeline = upstream.pipeline.syncOperations
            let upstreamHold = InputHold(held: 1)
            try upstreamPipeline.addHandler(upstreamHold, position: .before(try upstreamPipeline.handler(type: ByteToMessageHandler<HTTPResponseDecoder>.self)))
            let upstreamReady = try handOver(
                upstreamPipeline, decoder: ByteToMessageHandler<HTTPResponseDecoder>.self, to: upstreamSide,
                removing: [
                    try? upstreamPipeline.handler(type: HTTPRequestEncoder.self),
                    try? upstreamPipeline.handler(type: NIOHTTPRequestHeadersValidator.self),
                    try? upstreamPipeline.handler(type: UpstreamExchangeHandler.self),
                ]
            )
            try client.syncOptions?.setOption(.allowRemoteHalfClosure, value: true)
            try upstream.syncOptions?.setOption(.allowRemoteHalfClosure, value: true)
            // The held bytes (with those the decoders handed on as they went) go out once both
            // decoders are gone, then the ends of input that came meanwhile follow them.
            clientReady.and(upstreamReady).assumeIsolated().whenComplete { _ in
                clientSide.release()
                upstreamSide.release()
                clientHold?.release()
                upstreamHold.release()
            }
        } catch {
            client.close(promise: nil)
            upstream.close(promise: nil)
        }
        client.closeFuture.and(upstream.closeFuture).assumeIsolated().whenComplete { _ in
            ended(clientSide.bytesRead, upstreamSide.bytesRead)
        }
    }

    /// Puts `relay` right after the pipeline's `decoder` (so that it gets the bytes the decoder
    /// holds when it goes), and removes the decoder and the handlers in `removing` that are
    /// there; the future completes once the decoder is gone.
    private static func handOver<Decoder: ByteToMessageDecoder>(
        _ pipeline: ChannelPipeline.SynchronousOperations, decoder: ByteToMessageHandler<Decoder>.Type, to relay: RelayHandler,
        removing handlers: [(any RemovableChannelHandler)?]
    ) throws -> EventLoopFuture<Void> {
        let decoderContext = try pipeline.context(handlerType: decoder)
        try pipeline.addHandler(relay, position: .after(decoderContext.handler))
        for case let handler? in handlers {
            pipeline.removeHandler(handler, promise: nil)
        }
        let removed = pipeline.eventLoop.makePromise(of: Void.self)
        pipeline.removeHandler(context: decoderContext, promise: removed)
        return removed.futureResult
    }
}
