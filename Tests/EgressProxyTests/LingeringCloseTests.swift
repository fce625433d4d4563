import EgressTesting
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import EgressProxy

/// ``LingeringClose`` on real loopback sockets (an embedded channel cannot shut only its output):
/// a server answers, then lingers; the client sees the answer and the end of it, may go on
/// sending (32 MiB are taken), and the server closes when the client ends its side, when its time is
/// up, or when the client sends too much.
@Suite struct LingeringCloseTests {
    let group = MultiThreadedEventLoopGroup.singleton

    @Test func theClientReadsTheAnswerSendsOnAndItsCloseEndsTheConnection() async throws {
        let server = try await LingeringServer.start(limit: .seconds(60), byteLimit: 64 << 20, group: group)
        let client = try await Client.connect(port: server.port, group: group)
        // The answer, then the end of the server's output, while the server stays open.
        let answer = try await within(.seconds(20), "the answer and the end of output") { try await client.recorder.inputEnded.get() }
        #expect(String(buffer: answer) == "answer")
        // What the client still sends is read and dropped: 32 MiB, more than socket buffers hold,
        // so the write completes only as the server reads, and the server is still open after it.
        try await within(.seconds(20), "32 MiB to be taken") {
            try await client.channel.writeAndFlush(ByteBuffer(repeating: UInt8(ascii: "x"), count: 32 << 20))
        }
        #expect(!server.isClosed, "the server lingers while the client sends")
        try await client.channel.close(mode: .output)
        try await within(.seconds(20), "the server to close") { try await server.closed.get() }
        try await server.channel.close()
    }

    @Test func aClientThatNeverClosesIsClosedWhenTheTimeIsUp() async throws {
        let started = ContinuousClock.now
        let server = try await LingeringServer.start(limit: .milliseconds(200), byteLimit: 16 << 20, group: group)
        let client = try await Client.connect(port: server.port, group: group)
        _ = try await within(.seconds(20), "the answer") { try await client.recorder.inputEnded.get() }
        try await within(.seconds(20), "the server to give up") { try await server.closed.get() }
        let elapsed = ContinuousClock.now - started
        #expect(elapsed >= .milliseconds(200), "not before the time is up: \(elapsed)")
        try? await client.channel.close()
        try await server.channel.close()
    }

    @Test func aClientThatSendsTooMuchIsClosed() async throws {
        let server = try await LingeringServer.start(limit: .seconds(60), byteLimit: 64 << 10, group: group)
        let client = try await Client.connect(port: server.port, group: group)
        _ = try await within(.seconds(20), "the answer") { try await client.recorder.inputEnded.get() }
        #expect(!server.isClosed, "the server lingers after its answer")
        client.channel.writeAndFlush(ByteBuffer(repeating: UInt8(ascii: "x"), count: 1 << 20), promise: nil)
        try await within(.seconds(20), "the server to stop reading") { try await server.closed.get() }
        try? await client.channel.close()
        try await server.channel.close()
    }
}

/// A loopback server whose connections write "answer" and then linger.
private final class LingeringServer: Sendable {
    let channel: any Channel
    let port: Int
    /// Completes when its connection (the first to close) has closed.
    let closed: EventLoopFuture<Void>
    private let closedFlag = Atomic<Bool>(false)

    var isClosed: Bool { closedFlag.load(ordering: .relaxed) }

    private init(_ server: LoopbackServer) {
        channel = server.channel
        port = server.port
        closed = server.firstConnectionClosed
        closed.whenComplete { [self] _ in closedFlag.store(true, ordering: .relaxed) }
    }

    static func start(limit: TimeAmount, byteLimit: Int, group: any EventLoopGroup) async throws -> LingeringServer {
        LingeringServer(try await LoopbackServer.start(group: group) { [AnswerThenLinger(limit: limit, byteLimit: byteLimit)] })
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

/// A loopback client connection and what it reads.
private struct Client {
    let channel: any Channel
    let recorder: InputCollector

    static func connect(port: Int, group: any EventLoopGroup) async throws -> Client {
        let recorder = InputCollector(eventLoop: group.next())
        return Client(channel: try await LoopbackServer.connect(port: port, group: group) { [recorder] }, recorder: recorder)
    }
}
