import EgressTLS
import NIOCore
import NIOEmbedded
import NIOTLS

/// The end of an in-memory pipeline: records the plaintext, events and errors that the
/// ``TLSHandler`` in front of it delivers (errors stop here, so `EmbeddedChannel` does not
/// rethrow them).
final class EventRecorder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private(set) var received = ByteBuffer()
    private(set) var tlsEvents: [TLSUserEvent] = []
    private(set) var inputClosed = false
    private(set) var errors: [any Error] = []
    private(set) var readCount = 0

    var tlsErrors: [TLSError] {
        errors.compactMap { $0 as? TLSError }
    }

    var receivedText: String {
        String(buffer: received)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        readCount += 1
        received.writeBuffer(&buffer)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent {
            tlsEvents.append(event)
        } else if case .some(.inputClosed) = event as? ChannelEvent {
            inputClosed = true
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        errors.append(error)
    }
}

/// One side of an in-memory connection: an active `EmbeddedChannel` with a ``TLSHandler``
/// and an ``EventRecorder``. The channel is closed when the endpoint goes away, which breaks
/// the reference cycle between a channel and its pipeline.
final class InMemoryEndpoint {
    let channel: EmbeddedChannel
    let handler: TLSHandler
    let recorder: EventRecorder

    init(context: TLSContext, role: TLSRole, halfClosure: Bool = false) throws {
        channel = EmbeddedChannel()
        channel.allowRemoteHalfClosure = halfClosure
        handler = try TLSHandler(context: context, role: role)
        recorder = EventRecorder()
        try channel.pipeline.syncOperations.addHandlers([handler, recorder])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 443)).wait()
    }

    deinit {
        _ = try? channel.finish(acceptAlreadyClosed: true)
    }

    /// Writes and flushes `text` as plaintext.
    func send(_ text: String) {
        channel.writeAndFlush(ByteBuffer(string: text), promise: nil)
    }

    /// All ciphertext the handler has written so far.
    func takeOutbound() throws -> [ByteBuffer] {
        var buffers: [ByteBuffer] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) {
            buffers.append(buffer)
        }
        return buffers
    }

    /// Hands ciphertext to the handler as if read from the network.
    func deliver(_ buffers: [ByteBuffer]) throws {
        for buffer in buffers where channel.isActive {
            try channel.writeInbound(buffer)
        }
    }
}

/// A client and a server connected through memory: ``interact()`` carries the ciphertext each
/// writes to the other until neither has anything more to say.
struct InMemoryPair {
    let client: InMemoryEndpoint
    let server: InMemoryEndpoint

    init(
        clientContext: TLSContext,
        serverHostname: String? = "localhost",
        serverContext: TLSContext,
        serverHalfClosure: Bool = false
    ) throws {
        server = try InMemoryEndpoint(context: serverContext, role: .server, halfClosure: serverHalfClosure)
        client = try InMemoryEndpoint(context: clientContext, role: .client(serverHostname: serverHostname))
    }

    /// Moves ciphertext both ways until both sides are quiet; returns the number of round trips.
    @discardableResult
    func interact() throws -> Int {
        var rounds = 0
        while rounds < 100 {
            let toServer = try client.takeOutbound()
            try server.deliver(toServer)
            let toClient = try server.takeOutbound()
            try client.deliver(toClient)
            if toServer.isEmpty && toClient.isEmpty {
                break
            }
            rounds += 1
        }
        return rounds
    }
}
