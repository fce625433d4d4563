#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import EgressProxy

/// ``LingeringClose`` on real loopback sockets (an embedded channel cannot shut only its output):
/// a server answers, then lingers; the client sees the answer and the end of it, may go on
/// sending without a reset, and the server closes when the client ends its side, when its time is
/// up, or when the client sends too much.
@Suite struct LingeringCloseTests {
    let group = MultiThreadedEventLoopGroup.singleton

    @Test func theClientReadsTheAnswerSendsOnAndItsCloseEndsTheConnection() async throws {
        let (server, port, serverClosed) = try await lingeringServer(limit: .seconds(60), byteLimit: 16 << 20)
        let client = try await Client.connect(port: port, group: group)
        // The answer, then the end of the server's output, while the server stays open.
        let answer = try await EmbeddedSupport.within(.seconds(20), "the answer and the end of output") { try await client.recorder.inputEnded.get() }
        #expect(String(buffer: answer) == "answer")
        // What the client still sends is read and dropped: 1 MiB more, no reset.
        try await client.channel.writeAndFlush(ByteBuffer(repeating: UInt8(ascii: "x"), count: 1 << 20))
        try await client.channel.close(mode: .output)
        try await EmbeddedSupport.within(.seconds(20), "the server to close") { try await serverClosed.get() }
        try await EmbeddedSupport.within(.seconds(20), "the client to see the close") { try await client.channel.closeFuture.get() }
        #expect(client.recorder.resets.load(ordering: .relaxed) == 0, "the close was an orderly one")
        try await server.close()
    }

    @Test func aClientThatNeverClosesIsClosedWhenTheTimeIsUp() async throws {
        let (server, port, serverClosed) = try await lingeringServer(limit: .milliseconds(200), byteLimit: 16 << 20)
        let client = try await Client.connect(port: port, group: group)
        _ = try await EmbeddedSupport.within(.seconds(20), "the answer") { try await client.recorder.inputEnded.get() }
        try await EmbeddedSupport.within(.seconds(20), "the server to give up") { try await serverClosed.get() }
        try? await client.channel.close()
        try await server.close()
    }

    @Test func aClientThatSendsTooMuchIsClosed() async throws {
        let (server, port, serverClosed) = try await lingeringServer(limit: .seconds(60), byteLimit: 64 << 10)
        let client = try await Client.connect(port: port, group: group)
        _ = try await EmbeddedSupport.within(.seconds(20), "the answer") { try await client.recorder.inputEnded.get() }
        client.channel.writeAndFlush(ByteBuffer(repeating: UInt8(ascii: "x"), count: 1 << 20), promise: nil)
        try await EmbeddedSupport.within(.seconds(20), "the server to stop reading") { try await serverClosed.get() }
        try? await client.channel.close()
        try await server.close()
    }

    /// A loopback server whose connections write "answer" and then linger; the future completes
    /// when the (first) accepted connection has closed.
    private func lingeringServer(
        limit: TimeAmount, byteLimit: Int
    ) async throws -> (any Channel, Int, EventLoopFuture<Void>) {
        let closed = group.next().makePromise(of: Void.self)
        let server = try await ServerBootstrap(group: group)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                channel.closeFuture.cascade(to: closed)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AnswerThenLinger(limit: limit, byteLimit: byteLimit))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return (server, try #require(server.localAddress?.port), closed.futureResult)
    }
}

/// Writes "answer" once the connection is up, then hands it to ``LingeringClose``, as the
/// exchange loop does after a refusal.
private final class AnswerThenLinger: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let limit: TimeAmount
    let byteLimit: Int

    init(limit: TimeAmount, byteLimit: Int) {
        self.limit = limit
        self.byteLimit = byteLimit
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(NIOAny(ByteBuffer(string: "answer")), promise: nil)
        try? context.pipeline.syncOperations.addHandler(LingeringClose(limit: limit, byteLimit: byteLimit), position: .first)
        context.fireChannelActive()
    }
}

/// A loopback client connection and what it records.
private struct Client {
    let channel: any Channel
    let recorder: Recorder

    static func connect(port: Int, group: any EventLoopGroup) async throws -> Client {
        let recorder = Recorder(eventLoop: group.next())
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(recorder) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return Client(channel: channel, recorder: recorder)
    }
}

/// Collects what a connection reads until its input ends, and counts resets.
private final class Recorder: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    let inputEnded: EventLoopFuture<ByteBuffer>
    let resets = Atomic<Int>(0)
    private let promise: EventLoopPromise<ByteBuffer>
    private let received = Mutex(ByteBuffer())

    init(eventLoop: any EventLoop) {
        promise = eventLoop.makePromise()
        inputEnded = promise.futureResult
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        received.withLock { _ = $0.writeBuffer(&chunk) }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .some(.inputClosed) = event as? ChannelEvent { promise.succeed(received.withLock { $0 }) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? IOError, error.errnoCode == ECONNRESET { resets.add(1, ordering: .relaxed) }
        promise.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(ChannelError.eof)
    }
}
