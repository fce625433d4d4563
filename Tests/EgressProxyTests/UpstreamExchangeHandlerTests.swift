@testable import EgressProxy
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Records what an upstream exchange tells its sink, and answers `receivedBody` as told.
private final class RecordingSink: UpstreamResponseSink {
    var events: [String] = []
    var control: UpstreamExchangeControl?
    var takeMoreBody = true
    var errors: [any Error] = []
    /// Counted apart: `EmbeddedChannel.writeInbound` completes a read after every part.
    var readCompletes = 0

    func receivedHead(_ head: HTTPResponseHead, control: UpstreamExchangeControl) {
        events.append("head \(head.status.code)")
        self.control = control
    }

    func receivedBody(_ chunk: ByteBuffer) -> Bool {
        events.append("body \(String(buffer: chunk))")
        return takeMoreBody
    }

    func readComplete() {
        readCompletes += 1
    }

    func receivedEnd() {
        events.append("end")
    }

    func failed(_ error: any Error) {
        events.append("failed")
        errors.append(error)
    }
}

/// Counts the reads that get past the exchange handler to the socket.
private final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = Any
    var reads = 0

    func read(context: ChannelHandlerContext) {
        reads += 1
        context.read()
    }
}

/// One upstream connection's exchange handler alone in an `EmbeddedChannel`: request parts go
/// out, response parts are fed in, time is the embedded loop's.
private struct Connection {
    let channel = EmbeddedChannel()
    let handler = UpstreamExchangeHandler(target: UpstreamTarget(host: "198.51.100.7", port: 80), responseTimeout: .seconds(60))
    let reads = ReadCounter()

    init() throws {
        try channel.pipeline.syncOperations.addHandler(reads)
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(ipAddress: "198.51.100.7", port: 80)).wait()
    }

    /// A connection that has carried one exchange (a `204`) and is kept alive for the next.
    static func keptAlive() throws -> Connection {
        let connection = try Connection()
        #expect(connection.handler.begin(head(), body: [], sink: RecordingSink()) {})
        try connection.channel.writeInbound(response(204, ["Content-Length": "0"]))
        try connection.channel.writeInbound(HTTPClientResponsePart.end(nil))
        return connection
    }

    static func head(_ method: HTTPMethod = .GET) -> HTTPRequestHead {
        HTTPRequestHead(version: .http1_1, method: method, uri: "/", headers: ["Host": "origin.example"])
    }

    static func response(_ code: UInt, _ headers: HTTPHeaders = ["Content-Length": "2"]) -> HTTPClientResponsePart {
        .head(HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: Int(code)), headers: headers))
    }

    func sent() throws -> [String] {
        var parts: [String] = []
        while let part = try channel.readOutbound(as: HTTPClientRequestPart.self) {
            switch part {
            case .head(let head): parts.append("head \(head.method.rawValue)")
            case .body(.byteBuffer(let buffer)): parts.append("body \(String(buffer: buffer))")
            case .body: parts.append("body")
            case .end: parts.append("end")
            }
        }
        return parts
    }
}

@Suite struct UpstreamExchangeHandlerTests {
    @Test func aKeptAliveExchangeGoesOutComesBackAndFreesTheConnection() throws {
        let connection = try Connection()
        let sink = RecordingSink()
        let reusable = Box(0)
        #expect(connection.handler.begin(Connection.head(.POST), body: [ByteBuffer(string: "hi")], sink: sink) { reusable.value += 1 })
        #expect(try connection.sent() == ["head POST", "body hi", "end"])
        #expect(!connection.handler.begin(Connection.head(), body: [], sink: RecordingSink()) {}, "busy until the response ended")
        try connection.channel.writeInbound(HTTPClientResponsePart.head(HTTPResponseHead(version: .http1_1, status: .continue)))
        try connection.channel.writeInbound(Connection.response(200))
        try connection.channel.writeInbound(HTTPClientResponsePart.body(ByteBuffer(string: "ok")))
        #expect(sink.readCompletes == 2, "a moment to flush after the head's read and the body's")
        try connection.channel.writeInbound(HTTPClientResponsePart.end(nil))
        #expect(sink.events == ["head 200", "body ok", "end"], "the interim 100 is not the answer")
        #expect(reusable.value == 1)
        #expect(connection.channel.isActive)
        #expect(connection.handler.begin(Connection.head(), body: [], sink: RecordingSink()) {}, "free for the next exchange")
        _ = try connection.channel.finish(acceptAlreadyClosed: true)
    }

    @Test func aResponseThatClosesTheConnectionIsNotReused() throws {
        let connection = try Connection()
        let sink = RecordingSink()
        let reusable = Box(0)
        #expect(connection.handler.begin(Connection.head(), body: [], sink: sink) { reusable.value += 1 })
        try connection.channel.writeInbound(Connection.response(200, ["Content-Length": "0", "Connection": "close"]))
        try connection.channel.writeInbound(HTTPClientResponsePart.end(nil))
        #expect(sink.events == ["head 200", "end"])
        #expect(reusable.value == 0)
        #expect(!connection.channel.isActive)
    }

    @Test func anOriginThatDoesNotAnswerTimesOutAndTheConnectionCloses() throws {
        let connection = try Connection()
        let sink = RecordingSink()
        #expect(connection.handler.begin(Connection.head(), body: [], sink: sink) {})
        connection.channel.embeddedEventLoop.advanceTime(by: .seconds(59))
        #expect(sink.events.isEmpty)
        connection.channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(sink.events == ["failed"])
        #expect("\(sink.errors.first.map { "\($0)" } ?? "")".contains("did not answer within 60.0 s"))
        #expect(!connection.channel.isActive)
    }

    @Test func aKeptAliveConnectionClosedBeforeAnAnswerIsStaleOnlyForARepeatableRequest() throws {
        let first = try Connection()
        let firstSink = RecordingSink()
        #expect(first.handler.begin(Connection.head(), body: [], sink: firstSink) {})
        try first.channel.close().wait()
        #expect(firstSink.errors.first is UpstreamError, "a first exchange is never replayed: the origin may have acted on it")

        let kept = try Connection.keptAlive()
        let get = RecordingSink(), post = RecordingSink()
        #expect(kept.handler.begin(Connection.head(), body: [], sink: get) {})
        try kept.channel.close().wait()
        #expect(get.errors.first is StaleConnection, "a GET on a kept-alive connection closed before any answer")

        let reset = try Connection.keptAlive()
        let resetGet = RecordingSink()
        #expect(reset.handler.begin(Connection.head(), body: [], sink: resetGet) {})
        reset.channel.pipeline.fireErrorCaught(IOError(errnoCode: ECONNRESET, reason: "read(descriptor:pointer:size:)"))
        try? reset.channel.close().wait()
        #expect(resetGet.errors.first is StaleConnection, "reset as the request hit a connection the origin had closed")

        // Any other failure is no sign that the request never arrived: not repeated.
        let otherFailure = try Connection.keptAlive()
        let failedGet = RecordingSink()
        #expect(otherFailure.handler.begin(Connection.head(), body: [], sink: failedGet) {})
        otherFailure.channel.pipeline.fireErrorCaught(IOError(errnoCode: ETIMEDOUT, reason: "read(descriptor:pointer:size:)"))
        try? otherFailure.channel.close().wait()
        #expect(failedGet.errors.first is UpstreamError, "a timed-out read is not a stale connection")

        let keptForPost = try Connection.keptAlive()
        #expect(keptForPost.handler.begin(Connection.head(.POST), body: [], sink: post) {})
        try keptForPost.channel.close().wait()
        #expect(post.errors.first is UpstreamError, "a POST is not repeated")
    }

    @Test func aSinkThatFallsBehindPausesReadsUntilItResumesThem() throws {
        let connection = try Connection()
        let sink = RecordingSink()
        #expect(connection.handler.begin(Connection.head(), body: [], sink: sink) {})
        try connection.channel.writeInbound(Connection.response(200, ["Transfer-Encoding": "chunked"]))
        sink.takeMoreBody = false
        try connection.channel.writeInbound(HTTPClientResponsePart.body(ByteBuffer(string: "a")))
        let before = connection.reads.reads
        connection.channel.read()
        #expect(connection.reads.reads == before, "held while the sink is behind")
        sink.control?.resumeReads()
        #expect(connection.reads.reads == before + 1, "the held read goes out once resumed")
        try connection.channel.writeInbound(HTTPClientResponsePart.end(nil))
        _ = try connection.channel.finish(acceptAlreadyClosed: true)
    }

    @Test func anEarlyAnswerToAStreamedUploadWaitsForItsEndBeforeTheConnectionIsReused() throws {
        let connection = try Connection()
        let sink = RecordingSink()
        let reusable = Box(0)
        #expect(connection.handler.begin(Connection.head(.PUT), body: nil, sink: sink) { reusable.value += 1 })
        #expect(try connection.sent() == ["head PUT"])
        try connection.channel.writeInbound(Connection.response(413, ["Content-Length": "0"]))
        try connection.channel.writeInbound(HTTPClientResponsePart.end(nil))
        #expect(sink.events == ["head 413", "end"])
        #expect(reusable.value == 0, "the request has not ended")
        connection.handler.endRequest()
        #expect(try connection.sent() == ["end"])
        #expect(reusable.value == 1)
        _ = try connection.channel.finish(acceptAlreadyClosed: true)
    }

    @Test func aPartOutOfTurnOrAnAbandonedResponseClosesTheConnection() throws {
        let stray = try Connection()
        #expect(throws: Never.self) { try stray.channel.writeInbound(HTTPClientResponsePart.end(nil)) }
        #expect(!stray.channel.isActive, "an answer nobody asked for")

        let abandoned = try Connection()
        let sink = RecordingSink()
        #expect(abandoned.handler.begin(Connection.head(), body: [], sink: sink) {})
        try abandoned.channel.writeInbound(Connection.response(200, ["Content-Length": "10"]))
        sink.control?.abandon()
        #expect(!abandoned.channel.isActive)
        #expect(sink.events == ["head 200", "failed"])
    }
}

/// A value a test's closures change.
private final class Box<Value> {
    var value: Value

    init(_ value: Value) {
        self.value = value
    }
}
