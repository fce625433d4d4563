import EgressTesting
import EgressLinux
@testable import EgressProxy
import EgressRules
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOPosix
import Testing
import Workers

/// Answers with what it saw: `props METHOD URL [fields] body`.
private struct EchoRequest: WorkerEntrypoint {
    func fetch(_ request: Request, context: WorkerContext<String>) async throws -> Response {
        let body = try await request.body.collect(upTo: 1 << 20)
        let fields = request.headerFields.map { "\($0.name.rawName)=\($0.value)" }.joined(separator: ",")
        return Response(
            status: .ok, headerFields: [.contentType: "text/plain"],
            body: Body("\(context.props) \(request.method.rawValue) \(request.url) [\(fields)] \(String(buffer: body))")
        )
    }
}

private struct Boom: Error, CustomStringConvertible {
    var description: String { "boom at the handler" }
}

private struct Exploding: WorkerEntrypoint {
    func fetch(_ request: Request, context: WorkerContext<Void>) async throws -> Response {
        throw Boom()
    }
}

/// Never answers and ignores cancellation, until the test opens its gate.
private struct Hanging: WorkerEntrypoint {
    func fetch(_ request: Request, context: WorkerContext<EmbeddedSupport.Gate>) async throws -> Response {
        await context.props.wait()
        return Response(status: .ok, body: Body("too late"))
    }
}

/// Answers without reading the request body.
private struct IgnoresBody: WorkerEntrypoint {
    func fetch(_ request: Request, context: WorkerContext<Void>) async throws -> Response {
        Response(status: .accepted, body: Body("ignored \(request.head.path ?? "")"))
    }
}

/// Streams its body in two chunks (no known length).
private struct Streams: WorkerEntrypoint {
    func fetch(_ request: Request, context: WorkerContext<Void>) async throws -> Response {
        Response(status: .ok, body: .stream { writer in
            try await writer.write("first,")
            try await writer.write("second")
        })
    }
}

/// The exchange loop serving an in-memory connection (`NIOAsyncTestingChannel` with the HTTP
/// server handlers, as the HTTP handoff sets it up) that was going to 203.0.113.7:80.
private struct ExchangeLoopConnection {
    let channel: NIOAsyncTestingChannel
    let loop: Task<Void, Never>
    var responses: EmbeddedSupport.ResponseReader

    static let destination = IPEndpoint(address: IPAddress("203.0.113.7")!, port: 80)

    private init(channel: NIOAsyncTestingChannel, loop: Task<Void, Never>) {
        self.channel = channel
        self.loop = loop
        responses = EmbeddedSupport.ResponseReader(channel)
    }

    /// Runs `body` against a fresh connection and closes it afterwards, whatever happens.
    static func with(
        rules: InterceptionRules, limits: ProxyLimits = ProxyLimits(),
        _ body: (inout ExchangeLoopConnection) async throws -> Void
    ) async throws {
        let channel = NIOAsyncTestingChannel()
        try await channel.connect(to: try SocketAddress(ipAddress: "203.0.113.7", port: 80))
        let wrapped = try await channel.testingEventLoop.executeInContext {
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: false, withErrorHandling: false)
            return try HTTPExchangeLoop.Channel(wrappingChannelSynchronously: channel)
        }
        let services = ProxyServices(rules: rules, upstream: UpstreamClient(group: MultiThreadedEventLoopGroup.singleton), limits: limits)
        let connection = ConnectionContext(
            source: "198.51.100.1:40000", destination: destination, scheme: "http", logger: Logger(label: "egress.test"),
            eventLoop: MultiThreadedEventLoopGroup.singleton.next()  // timers run in real time
        )
        let loop = Task { await HTTPExchangeLoop.run(wrapped, connection: connection, services: services) }
        var open = ExchangeLoopConnection(channel: channel, loop: loop)
        do {
            try await body(&open)
        } catch {
            try? await channel.close()
            throw error
        }
        try? await channel.close()
        try await within(.seconds(20), "the exchange loop to end") { await loop.value }
    }

    func send(_ text: String) async throws {
        try await channel.writeInbound(ByteBuffer(string: text))
    }

    mutating func next(bodyless: Bool = false) async throws -> EmbeddedSupport.WireResponse {
        let reader = responses
        let (response, pending) = try await within(.seconds(20), "a response") {
            var reader = reader
            let response = try await reader.next(bodyless: bodyless)
            return (response, reader.pending)
        }
        responses.pending = pending
        return response
    }

    /// Waits for the loop to end the connection by itself.
    func ended() async throws -> Bool {
        try await within(.seconds(20), "the exchange loop to end the connection") { await loop.value }
        return !channel.isActive
    }
}

@Suite(.timeLimit(.minutes(1))) struct HTTPExchangeLoopTests {
    private func rules(_ worker: Worker, for target: String = "api.example.com", internet: Bool = false) throws -> InterceptionRules {
        let rules = InterceptionRules(internet: internet)
        try rules.interceptOutboundHttp(target, worker)
        return rules
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        try await ExchangeLoopConnection.with(rules: try rules(Worker(EchoRequest(), props: "echo"))) { connection in
            try await connection.send(
                "GET /one HTTP/1.1\r\nHost: api.example.com\r\nX-N: 1\r\n\r\n"
                    + "POST /two?q=2 HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 5\r\n\r\nhello"
                    + "GET /three HTTP/1.1\r\nhost: api.example.com\r\n\r\n"
            )
            let first = try await connection.next()
            let second = try await connection.next()
            let third = try await connection.next()
            #expect(first.statusLine == "HTTP/1.1 200 OK")
            #expect(first.body == "echo GET http://api.example.com/one [X-N=1] ")
            #expect(first.header("content-length") == String(first.body.utf8.count))
            #expect(first.header("content-type") == "text/plain")
            #expect(second.body == "echo POST http://api.example.com/two?q=2 [Content-Length=5] hello")
            #expect(third.body == "echo GET http://api.example.com/three [] ")
            #expect(connection.channel.isActive)
        }
    }

    @Test func keepAliveServesTheNextRequestOnTheSameConnection() async throws {
        try await ExchangeLoopConnection.with(rules: try rules(Worker(EchoRequest(), props: "echo"))) { connection in
            try await connection.send("GET /a HTTP/1.1\r\nHost: api.example.com\r\n\r\n")
            let first = try await connection.next()
            #expect(first.body == "echo GET http://api.example.com/a [] ")
            #expect(first.header("connection") == nil)
            #expect(connection.channel.isActive)

            try await connection.send("GET /b HTTP/1.1\r\nHost: api.example.com\r\nConnection: close\r\n\r\n")
            let last = try await connection.next()
            #expect(last.body == "echo GET http://api.example.com/b [Connection=close] ")
            #expect(last.header("connection") == "close")
            #expect(try await connection.ended(), "Connection: close ends the connection after the response")
        }
    }

    @Test func http10WithoutKeepAliveIsClosedAfterOneResponse() async throws {
        try await ExchangeLoopConnection.with(rules: try rules(Worker(EchoRequest(), props: "old"))) { connection in
            try await connection.send("GET /legacy HTTP/1.0\r\nHost: api.example.com\r\n\r\n")
            let response = try await connection.next()
            #expect(response.statusLine == "HTTP/1.0 200 OK")
            #expect(response.body == "old GET http://api.example.com/legacy [] ")
            #expect(response.header("connection") == "close")
            #expect(try await connection.ended())
        }
    }

    @Test func aHandlerThatThrowsGives502NamingItAndTheConnectionGoesOn() async throws {
        let rules = try rules(Worker(Exploding(), name: "exploder"))
        try rules.interceptOutboundHttp("echo.example", Worker(EchoRequest(), props: "echo"))
        try await ExchangeLoopConnection.with(rules: rules) { connection in
            try await connection.send("GET / HTTP/1.1\r\nHost: api.example.com\r\n\r\n")
            let failed = try await connection.next()
            #expect(failed.status == 502)
            #expect(failed.body == "egress: handler exploder failed: boom at the handler\n")
            #expect(failed.header("content-type") == "text/plain; charset=utf-8")

            try await connection.send("GET /after HTTP/1.1\r\nHost: echo.example\r\n\r\n")
            #expect(try await connection.next().body == "echo GET http://echo.example/after [] ")
        }
    }

    @Test func aHandlerPastItsTimeoutGives502SayingItDidNotAnswer() async throws {
        let gate = EmbeddedSupport.Gate()
        defer { gate.open() }
        let rules = try rules(Worker(Hanging(), props: gate, name: "sloth", timeout: .milliseconds(100)))
        try rules.interceptOutboundHttp("echo.example", Worker(EchoRequest(), props: "echo"))
        try await ExchangeLoopConnection.with(rules: rules) { connection in
            try await connection.send("GET /slow HTTP/1.1\r\nHost: api.example.com\r\n\r\n")
            // The handler never ends (only the test opens its gate): an answer at all is the deadline's.
            let timedOut = try await connection.next()
            #expect(timedOut.status == 502)
            #expect(timedOut.body == "egress: handler sloth did not answer within 0.1 seconds\n")
            try await gate.entry()
            #expect(gate.entered == 1)

            try await connection.send("GET /next HTTP/1.1\r\nHost: echo.example\r\n\r\n")
            #expect(try await connection.next().body == "echo GET http://echo.example/next [] ", "the hung handler holds nothing")
        }
    }

    @Test func withoutInternetAnUnmatchedRequestIsDenied403NamingTheHost() async throws {
        try await ExchangeLoopConnection.with(rules: try rules(Worker(EchoRequest(), props: "echo"))) { connection in
            try await connection.send("GET /x HTTP/1.1\r\nHost: blocked.example:8080\r\n\r\n")
            let denied = try await connection.next()
            #expect(denied.statusLine == "HTTP/1.1 403 Forbidden")
            #expect(denied.body == "egress: request to blocked.example denied: no rule intercepts it and this container has no internet access\n")

            // Without a Host, the destination is named.
            try await connection.send("GET /y HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            let anonymous = try await connection.next()
            #expect(anonymous.status == 403)
            #expect(anonymous.body == "egress: request to 203.0.113.7:80 denied: no rule intercepts it and this container has no internet access\n")
            #expect(connection.channel.isActive, "a denial keeps the connection")
        }
    }

    @Test func rulesAddedWhileTheConnectionIsOpenApplyToItsNextRequest() async throws {
        let rules = InterceptionRules(internet: false)
        try await ExchangeLoopConnection.with(rules: rules) { connection in
            try await connection.send("GET /1 HTTP/1.1\r\nHost: late.example\r\n\r\n")
            #expect(try await connection.next().status == 403)
            try rules.interceptOutboundHttp("late.example", Worker(EchoRequest(), props: "now"))
            try await connection.send("GET /2 HTTP/1.1\r\nHost: late.example\r\n\r\n")
            #expect(try await connection.next().body == "now GET http://late.example/2 [] ")
        }
    }

    @Test func malformedRequestGets400AndTheConnectionIsClosed() async throws {
        try await ExchangeLoopConnection.with(rules: try rules(Worker(EchoRequest(), props: "echo"))) { connection in
            try await connection.send("GET /fine HTTP/1.1\r\nHost: api.example.com\r\n\r\n")
            #expect(try await connection.next().status == 200)
            _ = try? await connection.send("GET /broken HTTP/1.1\r\nHost: api.example.com\r\nNo colon here\r\n\r\n")
            let rejected = try await connection.next()
            #expect(rejected.statusLine == "HTTP/1.1 400 Bad Request")
            #expect(rejected.body.hasPrefix("egress: malformed request: "), "\(rejected.body)")
            #expect(rejected.header("connection") == "close")
            #expect(try await connection.ended())
        }
    }

    @Test func oversizedHeadersGet431AndTheConnectionIsClosed() async throws {
        try await ExchangeLoopConnection.with(rules: try rules(Worker(EchoRequest(), props: "echo"))) { connection in
            let huge = String(repeating: "a", count: 100 * 1024)
            _ = try? await connection.send("GET / HTTP/1.1\r\nHost: api.example.com\r\nX-Huge: \(huge)\r\n\r\n")
            let rejected = try await connection.next()
            #expect(rejected.statusLine == "HTTP/1.1 431 Request Header Fields Too Large")
            #expect(rejected.body == "egress: request headers too large\n")
            #expect(try await connection.ended())
        }
    }

    @Test func expectContinueGetsAnInterimResponseFirst() async throws {
        try await ExchangeLoopConnection.with(rules: try rules(Worker(EchoRequest(), props: "echo"))) { connection in
            try await connection.send("PUT /up HTTP/1.1\r\nHost: api.example.com\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
            let interim = try await connection.next()
            #expect(interim.statusLine == "HTTP/1.1 100 Continue")
            try await connection.send("data")
            let final = try await connection.next()
            #expect(final.status == 200)
            #expect(final.body == "echo PUT http://api.example.com/up [Expect=100-continue,Content-Length=4] data")
        }
    }

    /// RFC 9110 §10.1.1: "A server that receives a 100-continue expectation in an HTTP/1.0
    /// request MUST ignore that expectation."
    @Test
    func expectContinueFromAnHTTP10ClientIsIgnored() async throws {
        try await ExchangeLoopConnection.with(rules: try rules(Worker(EchoRequest(), props: "echo"))) { connection in
            try await connection.send("PUT /up HTTP/1.0\r\nHost: api.example.com\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\ndata")
            let first = try await connection.next()
            #expect(first.statusLine == "HTTP/1.0 200 OK")
            #expect(first.body == "echo PUT http://api.example.com/up [Expect=100-continue,Content-Length=4] data")
        }
    }

    @Test func hostnamesMatchRulesWhateverTheirCaseTrailingDotOrPort() async throws {
        try await ExchangeLoopConnection.with(rules: try rules(Worker(EchoRequest(), props: "echo"))) { connection in
            for host in ["API.Example.COM", "api.example.com.", "api.example.com:80", "api.example.com:8080"] {
                try await connection.send("GET /h HTTP/1.1\r\nHost: \(host)\r\n\r\n")
                let response = try await connection.next()
                #expect(response.status == 200, "Host: \(host) escaped its rule")
                #expect(response.body == "echo GET http://\(host)/h [] ", "the handler sees the Host as sent")
            }
            // The rule's port is the original destination's (80), not the Host's.
            try await connection.send("GET /h HTTP/1.1\r\nHost: api.example.com.evil\r\n\r\n")
            #expect(try await connection.next().status == 403)
        }
    }

    @Test func anUnreadRequestBodyIsSkippedAndTheNextRequestServed() async throws {
        try await ExchangeLoopConnection.with(rules: try rules(Worker(IgnoresBody()))) { connection in
            let body = String(repeating: "b", count: 10_000)
            try await connection.send(
                "POST /big HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
                    + "POST /chunked HTTP/1.1\r\nHost: api.example.com\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                    + "GET /after HTTP/1.1\r\nHost: api.example.com\r\n\r\n"
            )
            #expect(try await connection.next().body == "ignored /big")
            #expect(try await connection.next().body == "ignored /chunked")
            let last = try await connection.next()
            #expect(last.status == 202)
            #expect(last.body == "ignored /after")
            #expect(connection.responses.leftover == "")
        }
    }

    @Test func streamedResponseBodiesAreChunked() async throws {
        try await ExchangeLoopConnection.with(rules: try rules(Worker(Streams()))) { connection in
            try await connection.send("GET /s HTTP/1.1\r\nHost: api.example.com\r\n\r\n")
            let response = try await connection.next()
            #expect(response.header("transfer-encoding") == "chunked")
            #expect(response.header("content-length") == nil)
            #expect(response.body == "first,second")
        }
    }

    @Test func aResponseToHEADCarriesNoBody() async throws {
        try await ExchangeLoopConnection.with(rules: try rules(Worker(EchoRequest(), props: "echo"))) { connection in
            try await connection.send(
                "HEAD /h HTTP/1.1\r\nHost: api.example.com\r\n\r\nGET /g HTTP/1.1\r\nHost: api.example.com\r\n\r\n"
            )
            let head = try await connection.next(bodyless: true)
            #expect(head.status == 200)
            #expect(head.header("content-length") == String("echo HEAD http://api.example.com/h [] ".utf8.count))
            let get = try await connection.next()
            #expect(get.body == "echo GET http://api.example.com/g [] ", "the HEAD response's body bytes would show up here")
        }
    }

    /// A client may end its side after the request (`shutdown(SHUT_WR)`, as `nc -N` does) and
    /// still read the response. Whole proxy on loopback, as below.
    @Test
    func aClientThatHalfClosesAfterItsRequestStillGetsTheResponse() async throws {
        var limits = ProxyLimits()
        limits.sniffTimeout = .seconds(30)  // a loaded machine may be slow to send the request
        let (server, port) = try await loopbackProxy(limits: limits)
        let received = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: ByteBuffer.self)
        let client = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(CollectUntilClosed(done: received)) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        try await client.writeAndFlush(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: half.example\r\nConnection: close\r\n\r\n"))
        try await client.close(mode: .output)
        var bytes = try await within(.seconds(20), "the proxy to answer and close") { try await received.futureResult.get() }
        let response = try #require(try EmbeddedSupport.parseResponse(&bytes), "no response: \(String(buffer: bytes).debugDescription)")
        #expect(response.status == 403)
        #expect(response.body.hasPrefix("egress: request to half.example denied"))
        try? await client.close()
        await server.closeListeners()
    }

    private func loopbackProxy(limits: ProxyLimits, connectionLimit: Int? = nil) async throws -> (ProxyServer, Int) {
        let group = MultiThreadedEventLoopGroup.singleton
        let services = ProxyServices(rules: InterceptionRules(internet: false), upstream: UpstreamClient(group: group), limits: limits)
        let server = ProxyServer(services: services, group: group, connectionLimit: connectionLimit)
        let address = try await server.listen(on: try SocketAddress(ipAddress: "127.0.0.1", port: 0), mode: .tproxy)
        return (server, try #require(address.port))
    }

    /// A container cannot take all of the proxy's descriptors: connections beyond its limit are
    /// closed as they arrive, and a freed slot is usable again.
    @Test func connectionsBeyondTheLimitAreClosedAsTheyArrive() async throws {
        var limits = ProxyLimits()
        limits.sniffTimeout = .seconds(30)
        let group = MultiThreadedEventLoopGroup.singleton
        let (server, port) = try await loopbackProxy(limits: limits, connectionLimit: 1)
        func connect(collectingInto promise: EventLoopPromise<ByteBuffer>) async throws -> any Channel {
            try await ClientBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(CollectUntilClosed(done: promise)) }
                }
                .connect(host: "127.0.0.1", port: port).get()
        }
        func openConnections(_ count: Int) async throws {
            try await within(.seconds(20), "\(count) open connections") {
                while server.openConnections != count { try await Task.sleep(for: .milliseconds(5)) }
            }
        }
        let holder = try await connect(collectingInto: group.next().makePromise())
        try await openConnections(1)
        let refused = group.next().makePromise(of: ByteBuffer.self)
        let second = try await connect(collectingInto: refused)
        let nothing = try await within(.seconds(20), "the extra connection to be closed") { try await refused.futureResult.get() }
        #expect(nothing.readableBytes == 0)
        try? await second.close()
        try await holder.close()
        try await openConnections(0)
        let answered = group.next().makePromise(of: ByteBuffer.self)
        let third = try await connect(collectingInto: answered)
        try await third.writeAndFlush(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: again.example\r\nConnection: close\r\n\r\n"))
        var bytes = try await within(.seconds(20), "an answer on a freed slot") { try await answered.futureResult.get() }
        #expect(try EmbeddedSupport.parseResponse(&bytes)?.status == 403)
        await server.closeListeners()
    }

    /// The idle timeout is installed by the HTTP handoff, so this runs the whole proxy on
    /// loopback (TPROXY mode, where the local address is the destination) with a raw client.
    @Test func aKeptAliveConnectionLeftIdleIsClosedAfterTheIdleTimeout() async throws {
        var limits = ProxyLimits()
        limits.idleTimeout = .milliseconds(300)
        limits.sniffTimeout = .seconds(30)  // a loaded machine may be slow to send the request
        let group = MultiThreadedEventLoopGroup.singleton
        let (server, port) = try await loopbackProxy(limits: limits)
        let received = group.next().makePromise(of: ByteBuffer.self)
        let client = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(CollectUntilClosed(done: received)) }
            }
            .connect(host: "127.0.0.1", port: port).get()
        let started = ContinuousClock.now
        try await client.writeAndFlush(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: idle.example\r\n\r\n"))
        var bytes = try await within(.seconds(20), "the proxy to close the idle connection") {
            try await received.futureResult.get()
        }
        let elapsed = ContinuousClock.now - started
        let response = try #require(try EmbeddedSupport.parseResponse(&bytes))
        #expect(response.status == 403)
        #expect(response.header("connection") == nil, "the response kept the connection alive")
        #expect(bytes.readableBytes == 0)
        #expect(elapsed >= .milliseconds(300), "closed only once idle for the timeout: \(elapsed)")
        try? await client.close()
        await server.closeListeners()
    }
}

/// Gathers what a client receives until the server closes the connection.
private final class CollectUntilClosed: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let done: EventLoopPromise<ByteBuffer>
    var bytes = ByteBuffer()

    init(done: EventLoopPromise<ByteBuffer>) {
        self.done = done
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        bytes.writeBuffer(&chunk)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event { done.succeed(bytes) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        done.succeed(bytes)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        done.succeed(bytes)
        context.close(promise: nil)
    }
}
