import EgressTLS
import NIOCore
import NIOPosix

/// Connects to 127.0.0.1:`port` as a TLS client for `localhost`, sends `line`, and waits until
/// the reply contains `expected`. Without `autoRead`, the application asks for one read after
/// the handshake, and the handler must keep reading until it has plaintext.
func exchangeLine(
    client context: TLSContext,
    port: Int,
    line: String,
    expected: String,
    autoRead: Bool = true
) async throws -> (handshake: TLSHandshakeResult, reply: String) {
    let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
    let handshake = eventLoop.makePromise(of: TLSHandshakeResult.self)
    let reply = eventLoop.makePromise(of: String.self)
    let channel = try await ClientBootstrap(group: eventLoop)
        .channelOption(.autoRead, value: autoRead)
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandlers([
                    TLSHandler(context: context, role: .client(serverHostname: "localhost")),
                    TextCollector(handshake: handshake, text: reply, until: expected),
                ])
            }
        }
        .connect(host: "127.0.0.1", port: port)
        .get()
    let handshakeResult = try await handshake.futureResult.get()
    try await channel.writeAndFlush(ByteBuffer(string: line))
    if !autoRead {
        channel.read()
    }
    let result = (handshakeResult, try await reply.futureResult.get())
    // The server may have closed first; either way the channel ends closed.
    channel.close(promise: nil)
    try await channel.closeFuture.get()
    return result
}

/// A TLS server on 127.0.0.1 (an ephemeral port) whose connections echo one line, then close
/// with close_notify. `handshake`, if given, gets the first connection's handshake result.
func startLineEchoServer(
    context: TLSContext,
    handshake: EventLoopPromise<TLSHandshakeResult>? = nil
) async throws -> any Channel {
    try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                let promise = channel.eventLoop.makePromise(of: TLSHandshakeResult.self)
                if let handshake {
                    promise.futureResult.cascade(to: handshake)
                }
                try channel.pipeline.syncOperations.addHandlers([
                    TLSHandler(context: context, role: .server),
                    LineEcho(handshake: promise, lines: 1),
                ])
            }
        }
        .bind(host: "127.0.0.1", port: 0)
        .get()
}
