import NIOCore
import NIOHTTP1

/// The HTTP/1.1 codec of a client connection (NIO's response encoder and request decoder, paired
/// so that responses to `HEAD` carry no body), and what happens to it around a request that asks
/// to switch protocols.
///
/// NIO's decoder (llhttp) stops parsing after a request that asks for an upgrade
/// (`Connection: upgrade` with an `Upgrade` field) or a `CONNECT`: what follows may be another
/// protocol. The bytes it holds from then on are not lost: the codec is set up so that the
/// decoder hands them to the next handler when it is removed, and an ``InputHold`` in front of
/// it keeps the client's end of input (and further reads) back from the stopped decoder, which
/// would drop them on the end of input (``stopped(_:)``). So the connection goes either way:
/// - the origin switched protocols: ``UpgradeTunnel`` takes the codec out and the bytes go to
///   the tunnel's relay;
/// - it did not (any other answer, or a handler's or the proxy's own): ``restart(_:)`` puts a
///   fresh codec in its place, which parses the held bytes as the next request.
enum HTTPServerCodec {
    /// Adds the codec to `pipeline` (on its event loop), behind an ``InputHold``, without
    /// pipelining assistance, error handling or outbound header validation (the proxy answers
    /// malformed requests itself, and its response heads are legal by construction or an origin's
    /// parsed head).
    static func add(to pipeline: ChannelPipeline.SynchronousOperations) throws {
        let hold = InputHold()
        try pipeline.addHandler(hold)
        try addCodec(to: pipeline, position: .after(hold))
    }

    /// The encoder and the decoder, at `position`.
    private static func addCodec(to pipeline: ChannelPipeline.SynchronousOperations, position: ChannelPipeline.SynchronousOperations.Position) throws {
        // NIO makes a decoder that hands its held bytes on when removed only with a server
        // upgrade configuration; one without upgraders never upgrades (its handler passes the
        // first request on and leaves), and the proxy decides about upgrades itself.
        try pipeline.configureHTTPServerPipeline(
            position: position, withPipeliningAssistance: false, withServerUpgrade: (upgraders: [], completionHandler: { _ in }),
            withErrorHandling: false, withOutboundHeaderValidation: false
        )
    }

    /// Whether the decoder stops parsing after `head` (see the type's description): the test
    /// llhttp applies, an `Upgrade` field with `upgrade` among the `Connection` tokens, or `CONNECT`.
    static func stopsParsing(after head: HTTPRequestHead) -> Bool {
        head.method == .CONNECT || (head.headers.contains(name: "upgrade") && UpgradeRequest.listsUpgrade(head.headers))
    }

    /// The end of a request after which the decoder stops (``stopsParsing(after:)``) went by: the
    /// client's input waits in front of the decoder until ``restart(_:)`` or an ``UpgradeTunnel``
    /// has taken it out (each releases the hold once).
    static func stopped(_ pipeline: ChannelPipeline.SynchronousOperations) {
        InputHold.of(pipeline)?.hold()
    }

    /// Replaces the stopped codec with a fresh one, which parses the bytes the old decoder held
    /// (they arrive in order once the old decoder is gone), and then lets the input held since it
    /// stopped go on (``stopped(_:)``). Call it once the response to the request that stopped it
    /// has been written. A pipeline that cannot be changed (the channel closed meanwhile) is closed.
    static func restart(_ channel: any Channel) {
        let pipeline = channel.pipeline.syncOperations
        do {
            let encoder = try pipeline.handler(type: HTTPResponseEncoder.self)
            let decoder = try pipeline.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try addCodec(to: pipeline, position: .after(decoder.handler))
            pipeline.removeHandler(encoder, promise: nil)
            let removed = channel.eventLoop.makePromise(of: Void.self)
            pipeline.removeHandler(context: decoder, promise: removed)
            // The held bytes reach the fresh decoder without a read completing, and the parts it
            // makes of them wait (in the exchange loop's async channel) until one does. The end
            // of the input, if it came meanwhile, follows them.
            removed.futureResult.assumeIsolated().whenComplete { _ in
                (try? pipeline.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self))?.fireChannelReadComplete()
                InputHold.of(pipeline)?.release()
            }
        } catch {
            channel.close(promise: nil)
        }
    }
}
