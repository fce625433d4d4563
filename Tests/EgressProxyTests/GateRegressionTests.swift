@testable import EgressProxy
import EgressTesting
import EgressRules
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing
import Workers

private struct EarlyAnswer: WorkerEntrypoint {
    func fetch(_ request: Request, context: WorkerContext<Void>) async throws -> Response {
        Response(status: .init(code: 413, reasonPhrase: "Too Large"), body: Body("early \(request.head.path ?? "")"))
    }
}

/// An origin speaking raw bytes: records request targets, answers each with `answer(uri)`.
private final class RawOrigin: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let seen = Mutex<[String]>([])
    let answer: @Sendable (String) -> String
    init(answer: @escaping @Sendable (String) -> String) { self.answer = answer }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let text = String(buffer: unwrapInboundIn(data))
        for block in text.components(separatedBy: "\r\n\r\n") where block.hasPrefix("GET ") || block.hasPrefix("POST ") {
            let uri = String(block.split(separator: " ")[1])
            seen.withLock { $0.append(uri) }
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: answer(uri))), promise: nil)
        }
    }
}

private func rawOrigin(_ handler: some ChannelInboundHandler & Sendable) async throws -> any Channel {
    try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .childChannelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) } }
        .bind(host: "127.0.0.1", port: 0).get()
}

/// Regressions found by review of the event-loop request path (RequestGate, DirectExchange,
/// HandlerExchange, UpstreamExchangeHandler): each was a failing scenario before its fix.
@Suite(.timeLimit(.minutes(1))) struct GateRegressionTests {
    /// A handler answers an upload before its body has all arrived; the rest of that body is
    /// dropped and the next request on the connection is answered.
    @Test func anEarlyAnswerToAnUploadLeavesTheConnectionUsable() async throws {
        let rules = InterceptionRules(internet: false)
        try rules.interceptOutboundHttp("early.example:9", Worker(EarlyAnswer()))
        try await LoopbackHTTPProxy.with(rules: rules, destinationPort: 9) { inbound, outbound in
            let statuses = try await within(.seconds(20), "both answers") { () async throws -> [Int] in
                var responses = EmbeddedSupport.ConnectionResponseReader(inbound)
                try await outbound.write(ByteBuffer(string: "POST /up HTTP/1.1\r\nHost: early.example\r\nContent-Length: 10\r\n\r\n01234"))
                var answers = try await responses.read(1)
                try await outbound.write(ByteBuffer(string: "56789" + "POST /two HTTP/1.1\r\nHost: early.example\r\nContent-Length: 1\r\n\r\nx"))
                answers += try await responses.read(1)
                return answers.map(\.status)
            }
            #expect(statuses == [413, 413])
        }
    }

    /// A non-idempotent request on a pooled connection that the origin closes without answering
    /// is not sent again (the origin may have acted on it): the client gets a 502.
    @Test func aPostIsNeverSentTwice() async throws {
        let origin = ClosingOrigin()
        let server = try await rawOrigin(origin)
        let port = try #require(server.localAddress?.port)
        try await LoopbackHTTPProxy.with(rules: InterceptionRules(internet: true), destinationPort: port) { inbound, outbound in
            let statuses = try await within(.seconds(20), "two answers") { () async throws -> [Int] in
                var responses = EmbeddedSupport.ConnectionResponseReader(inbound)
                try await outbound.write(ByteBuffer(string: "GET /warm HTTP/1.1\r\nHost: out.example\r\n\r\n"))
                var all = try await responses.read(1)
                try await outbound.write(ByteBuffer(string: "POST /charge HTTP/1.1\r\nHost: out.example\r\nContent-Length: 0\r\n\r\n"))
                all += try await responses.read(1)
                return all.map(\.status)
            }
            #expect(statuses == [200, 502])
            #expect(origin.seen.withLock { $0.filter { $0.hasPrefix("POST") }.count } == 1)
        }
        try? await server.close()
    }

    /// HEAD to a handler whose body streams: the head is answered and the connection stays usable.
    @Test func aHeadRequestToAStreamingHandlerKeepsTheConnection() async throws {
        let rules = InterceptionRules(internet: false)
        try rules.interceptOutboundHttp("stream.example:9", Worker(Streamer()))
        try await LoopbackHTTPProxy.with(rules: rules, destinationPort: 9) { inbound, outbound in
            let answers = try await within(.seconds(20), "two answers") { () async throws -> [EmbeddedSupport.WireResponse] in
                var responses = EmbeddedSupport.ConnectionResponseReader(inbound)
                try await outbound.write(ByteBuffer(string: "HEAD /h HTTP/1.1\r\nHost: stream.example\r\n\r\nGET /g HTTP/1.1\r\nHost: stream.example\r\n\r\n"))
                return try await responses.read(1, bodyless: true) + responses.read(1)
            }
            #expect(answers.map(\.status) == [200, 200])
            #expect(answers.last?.body == "streamed")
        }
    }

    /// NIO's decoder stops parsing after a request that asks to switch protocols; one answered
    /// by a handler, or denied, is not tunnelled, so the codec restarts and the requests pipelined
    /// behind it are answered.
    @Test func upgradeRequestsAnsweredByAHandlerOrDeniedLeaveTheConnectionUsable() async throws {
        let rules = InterceptionRules(internet: false)
        try rules.interceptOutboundHttp("up.example:9", Worker(EarlyAnswer()))
        let upgrade = "Connection: Upgrade\r\nUpgrade: websocket\r\n"
        try await LoopbackHTTPProxy.with(rules: rules, destinationPort: 9) { inbound, outbound in
            let answers = try await within(.seconds(20), "three answers") { () async throws -> [EmbeddedSupport.WireResponse] in
                var responses = EmbeddedSupport.ConnectionResponseReader(inbound)
                try await outbound.write(ByteBuffer(
                    string: "GET /a HTTP/1.1\r\nHost: up.example\r\n\(upgrade)\r\n" + "GET /b HTTP/1.1\r\nHost: other.example\r\n\(upgrade)\r\n"
                        + "GET /c HTTP/1.1\r\nHost: up.example\r\n\r\n"
                ))
                return try await responses.read(3)
            }
            #expect(answers.map(\.status) == [413, 403, 413])
            #expect(answers.last?.body == "early /c")
        }
    }

    /// A request pipelined after one that asked to close the connection never reaches the origin.
    @Test func aRequestPipelinedAfterConnectionCloseIsNotSentUpstream() async throws {
        let origin = RawOrigin { uri in "HTTP/1.1 200 OK\r\nContent-Length: \(uri.utf8.count)\r\n\r\n\(uri)" }
        let server = try await rawOrigin(origin)
        let port = try #require(server.localAddress?.port)
        try await LoopbackHTTPProxy.with(rules: InterceptionRules(internet: true), destinationPort: port) { inbound, outbound in
            try await outbound.write(ByteBuffer(string:
                "POST /a HTTP/1.1\r\nHost: out.example\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx"
                + "GET /delete-everything HTTP/1.1\r\nHost: out.example\r\n\r\n"))
            try await within(.seconds(20), "the close") { for try await _ in inbound {} }
            #expect(origin.seen.withLock { $0 } == ["/a"])
        }
        try? await server.close()
    }
}

extension GateRegressionTests {
    /// A client that half-closes after its request and reads slowly still gets the whole of a
    /// large forwarded response (the connection closes only after the end has gone out).
    @Test(arguments: ["GET /big HTTP/1.1\r\nHost: out.example\r\n\r\n", "GET /big HTTP/1.1\r\nHost: out.example\r\nConnection: close\r\n\r\n"])
    func aHalfClosingSlowReaderGetsTheWholeResponse(request: String) async throws {
        let size = 8 << 20
        let origin = RawOrigin { _ in "HTTP/1.1 200 OK\r\nContent-Length: \(size)\r\n\r\n" + String(repeating: "b", count: size) }
        let server = try await rawOrigin(origin)
        let port = try #require(server.localAddress?.port)
        try await LoopbackHTTPProxy.with(rules: InterceptionRules(internet: true), destinationPort: port) { inbound, outbound in
            try await outbound.write(ByteBuffer(string: request))
            outbound.finish()
            // Read to the close; the bytes after the head must be the whole body.
            let (head, body) = try await within(.seconds(30), "the whole response") { () async throws -> (ByteBuffer, Int) in
                var start = ByteBuffer()
                var total = 0
                for try await var chunk in inbound {
                    total += chunk.readableBytes
                    if start.readableBytes < 4096 { start.writeBuffer(&chunk) }
                    if total < 1 << 20 { try await Task.sleep(for: .milliseconds(20)) }  // slow at first
                }
                return (start, total)
            }
            let headLength = try #require(String(buffer: head).range(of: "\r\n\r\n").map { String(buffer: head)[..<$0.upperBound].utf8.count })
            #expect(body - headLength == size, "got \(body - headLength) bytes of a \(size)-byte body")
        }
        try? await server.close()
    }
}

extension GateRegressionTests {
    /// An origin that takes the request and never answers does not hold the client forever: the
    /// exchange fails with a 502 naming it once the response timeout passes.
    @Test func aSilentOriginGetsA502AfterTheResponseTimeout() async throws {
        let silent = RawOrigin { _ in "" }
        let server = try await rawOrigin(silent)
        let port = try #require(server.localAddress?.port)
        try await LoopbackHTTPProxy.with(rules: InterceptionRules(internet: true), destinationPort: port, responseTimeout: .milliseconds(300)) { inbound, outbound in
            let answer = try await within(.seconds(20), "the 502") { () async throws -> [EmbeddedSupport.WireResponse] in
                var responses = EmbeddedSupport.ConnectionResponseReader(inbound)
                try await outbound.write(ByteBuffer(string: "GET /never HTTP/1.1\r\nHost: out.example\r\n\r\n"))
                return try await responses.read(1)
            }
            #expect(answer.first?.status == 502)
            #expect(answer.first?.body.contains("did not answer within 0.3 s") == true, "\(answer.first?.body ?? "")")
        }
        try? await server.close()
    }
}

extension GateRegressionTests {
    /// An origin that refuses an upload early (413, then closes) while the client is still
    /// sending: the client gets the 413, not a 502.
    @Test func anOriginsEarlyAnswerToAnUploadReachesTheClient() async throws {
        let server = try await rawOrigin(EarlyRefusingOrigin())
        let port = try #require(server.localAddress?.port)
        try await LoopbackHTTPProxy.with(rules: InterceptionRules(internet: true), destinationPort: port) { inbound, outbound in
            let answers = try await within(.seconds(20), "the origin's answer") { () async throws -> [EmbeddedSupport.WireResponse] in
                var responses = EmbeddedSupport.ConnectionResponseReader(inbound)
                try await outbound.write(ByteBuffer(string: "POST /upload HTTP/1.1\r\nHost: out.example\r\nTransfer-Encoding: chunked\r\n\r\n"))
                let chunk = String(repeating: "u", count: 64 * 1024)
                let chunked = String(chunk.utf8.count, radix: 16) + "\r\n" + chunk + "\r\n"
                for _ in 0..<32 { try await outbound.write(ByteBuffer(string: chunked)) }
                try await outbound.write(ByteBuffer(string: "0\r\n\r\n"))
                return try await responses.read(1)
            }
            #expect(answers.first?.status == 413, "\(answers.first.map { "\($0.status) \($0.body)" } ?? "no answer")")
        }
        try? await server.close()
    }
}

extension GateRegressionTests {
    /// A client that goes away (a reset: a half-close still waits for the answer) while its
    /// request waits on a slow origin (a long poll) takes the upstream connection along, instead
    /// of leaving it open for nobody.
    @Test func aVanishedClientsUpstreamConnectionCloses() async throws {
        let origin = SilentOrigin(closed: MultiThreadedEventLoopGroup.singleton.next().makePromise())
        let server = try await rawOrigin(origin)
        let port = try #require(server.localAddress?.port)
        try await LoopbackHTTPProxy.with(rules: InterceptionRules(internet: true), destinationPort: port, resetOnClose: true) { _, outbound in
            try await outbound.write(ByteBuffer(string: "GET /poll HTTP/1.1\r\nHost: out.example\r\n\r\n"))
            try await within(.seconds(20), "the request at the origin") {
                while !origin.asked.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(5)) }
            }
        }  // the client closes here
        try await within(.seconds(20), "the upstream connection to close") { try await origin.closed.futureResult.get() }
        try? await server.close()
    }
}

/// Takes requests and never answers; says when a connection of it closes.
private final class SilentOrigin: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let asked = Mutex(false)
    let closed: EventLoopPromise<Void>

    init(closed: EventLoopPromise<Void>) {
        self.closed = closed
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        asked.withLock { $0 = true }
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed.succeed()
    }
}

/// Reads a request's head, answers 413 at once and closes, as an origin with an upload limit.
private final class EarlyRefusingOrigin: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let answer = "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 9\r\nConnection: close\r\n\r\ntoo large"
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: answer))).whenComplete { _ in channel.close(promise: nil) }
    }
}

/// Answers every request, but closes without a word on `POST /charge`.
private final class ClosingOrigin: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let seen = Mutex<[String]>([])

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let text = String(buffer: unwrapInboundIn(data))
        for block in text.components(separatedBy: "\r\n\r\n") where !block.isEmpty {
            let line = String(block.split(separator: "\r\n")[0])
            seen.withLock { $0.append(line) }
            if line.hasPrefix("POST /charge") {
                context.close(promise: nil)
                return
            }
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")), promise: nil)
        }
    }
}

private struct Streamer: WorkerEntrypoint {
    func fetch(_ request: Request, context: WorkerContext<Void>) async throws -> Response {
        Response(status: .ok, body: .stream { writer in try await writer.write("streamed") })
    }
}
