import EgressTLS
import EgressTesting
import NIOCore
import NIOPosix
import NIOTLS
import Synchronization
import Testing

/// `close(mode: .output)` on a running TLS connection, over real loopback sockets (an embedded
/// channel cannot half-close): the server's answer and close_notify reach the client, what the
/// client still sends reaches the server, and the client's end of its side ends the connection.
@Suite struct OutputHalfCloseTests {
    let pki: TestPKI
    let group = MultiThreadedEventLoopGroup.singleton

    init() throws {
        pki = try TestPKI.shared.get()
    }

    @Test func theAnswerAndCloseNotifyGoOutAndReadsGoOnUntilThePeerCloses() async throws {
        let server = try await HalfClosingServer.start(context: pki.serverContext(), group: group)
        let client = try await TLSClient.connect(context: pki.trustingClientContext(), port: server.port, group: group)
        // The client's input ends (close_notify, seen as inputClosed) after the whole answer.
        let answer = try await within(.seconds(20), "the answer and close_notify") { try await client.recorder.inputEnded.get() }
        #expect(String(buffer: answer) == "answer")
        #expect(server.recorder.failedWrite.withLock { $0 } == "outputClosed", "a write after the half-close fails")
        // The server still reads: what the client sends now is delivered to it.
        try await client.channel.writeAndFlush(ByteBuffer(string: "more"))
        let received = try await within(.seconds(20), "the server to read on") { try await server.recorder.received(containing: "more") }
        #expect(received == "more")
        // The client's close_notify and close end the server's connection, without an error.
        try await client.channel.close()
        try await within(.seconds(20), "the server to close") { try await server.closed.get() }
        #expect(server.recorder.errors.withLock { $0 }.isEmpty)
    }

    /// A peer that ends TCP without close_notify after ours (the client's socket, its input
    /// already ended, closes fully here) ends the connection, and the TLS handler reports no
    /// truncation.
    @Test func aPeerThatClosesTCPWithoutCloseNotifyEndsTheConnectionWithoutAnError() async throws {
        let server = try await HalfClosingServer.start(context: pki.serverContext(), group: group)
        let client = try await TLSClient.connect(context: pki.trustingClientContext(), port: server.port, group: group)
        _ = try await within(.seconds(20), "the answer") { try await client.recorder.inputEnded.get() }
        // A TCP close under the TLS handler: no close_notify from the client.
        let channel = client.channel
        try await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.context(handlerType: TLSHandler.self).close(mode: .output, promise: nil)
        }.get()
        try await within(.seconds(20), "the server to close") { try await server.closed.get() }
        #expect(server.recorder.errors.withLock { $0 }.isEmpty, "after its own close_notify, a plain TCP end is no truncation")
        try? await client.channel.close()
        try await server.channel.close()
    }
}

/// A TLS server whose connections write "answer" once the handshake is done, then half-close
/// their output; it records what it reads afterwards.
private struct HalfClosingServer {
    let channel: any Channel
    let port: Int
    let recorder: ServerRecorder
    /// Completes when its connection (the first to close) has closed.
    let closed: EventLoopFuture<Void>

    static func start(context: TLSContext, group: any EventLoopGroup) async throws -> HalfClosingServer {
        let recorder = ServerRecorder()
        let server = try await LoopbackServer.start(group: group) { [try TLSHandler(context: context, role: .server), recorder] }
        return HalfClosingServer(channel: server.channel, port: server.port, recorder: recorder, closed: server.firstConnectionClosed)
    }
}

/// The server side's application: answers, half-closes, and records what it reads after.
private final class ServerRecorder: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let errors = Mutex<[String]>([])
    let failedWrite = Mutex<String?>(nil)
    private let text = Mutex("")

    /// Waits until what was read contains `marker`; returns all of it.
    func received(containing marker: String) async throws -> String {
        while !text.withLock({ $0.contains(marker) }) { try await Task.sleep(for: .milliseconds(5)) }
        return text.withLock { $0 }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .some(.handshakeCompleted) = event as? TLSUserEvent {
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "answer")), promise: nil)
            context.close(mode: .output, promise: nil)
            let late = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "too late")), promise: late)
            late.futureResult.whenFailure { error in
                self.failedWrite.withLock { $0 = (error as? ChannelError) == .outputClosed ? "outputClosed" : "\(error)" }
            }
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let chunk = String(buffer: unwrapInboundIn(data))
        text.withLock { $0 += chunk }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        errors.withLock { $0.append("\(error)") }
    }
}

/// A TLS client connection whose plaintext is collected until its input ends (the server's
/// close_notify).
private struct TLSClient {
    let channel: any Channel
    let recorder: InputCollector

    static func connect(context: TLSContext, port: Int, group: any EventLoopGroup) async throws -> TLSClient {
        let recorder = InputCollector(eventLoop: group.next())
        let channel = try await LoopbackServer.connect(port: port, group: group) {
            [try TLSHandler(context: context, role: .client(serverHostname: "localhost")), recorder]
        }
        return TLSClient(channel: channel, recorder: recorder)
    }
}
