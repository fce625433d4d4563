@testable import EgressProxy
import EgressTesting
import EgressRules
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

#if canImport(Glibc)
import Glibc
#endif
import Workers

private struct Echo: WorkerEntrypoint {
    func fetch(_ request: Request, context: WorkerContext<Void>) async throws -> Response {
        Response(status: .ok, body: Body("handler \(request.head.path ?? "")"))
    }
}

/// Answers 200 ms after `inputClosed` has succeeded: long after a connection that let the end of
/// input through to the exchange loop would have been closed.
private struct AnswersAfter: WorkerEntrypoint {
    let inputClosed: EventLoopFuture<Void>

    func fetch(_ request: Request, context: WorkerContext<Void>) async throws -> Response {
        try await inputClosed.get()
        try await Task.sleep(for: .milliseconds(200))
        return Response(status: .ok, body: Body("answered after the half-close"))
    }
}

/// Throws on `/throw`, never answers on `/hang` (until the test opens the gate), streams its
/// body in two chunks otherwise.
private struct Moody: WorkerEntrypoint {
    struct Failed: Error, CustomStringConvertible {
        var description: String { "moody" }
    }

    func fetch(_ request: Request, context: WorkerContext<EmbeddedSupport.Gate>) async throws -> Response {
        switch request.head.path {
        case "/throw":
            throw Failed()
        case "/hang":
            await context.props.wait()
            return Response(status: .ok, body: Body("too late"))
        default:
            return Response(status: .ok, body: .stream { writer in
                try await writer.write("first,")
                try await writer.write("second")
            })
        }
    }
}

/// A client connection served by the proxy's HTTP path (``HTTPExchangeLoop/serve(_:connection:services:)``)
/// on loopback, whose original destination is an ``EmbeddedSupport/EchoOrigin``: requests no rule
/// matches go there, matched ones to their handler.
private enum GatedConnection {
    static func with(
        rules: InterceptionRules, logger: Logger = Logger(label: "egress.test"), resetOnClose: Bool = false,
        _ body: (NIOAsyncChannelInboundStream<ByteBuffer>, NIOAsyncChannelOutboundWriter<ByteBuffer>, EmbeddedSupport.EchoOrigin) async throws -> Void
    ) async throws {
        let origin = try await EmbeddedSupport.EchoOrigin(group: MultiThreadedEventLoopGroup.singleton)
        try await LoopbackHTTPProxy.with(rules: rules, destinationPort: origin.port, resetOnClose: resetOnClose, logger: logger) { inbound, outbound in
            try await body(inbound, outbound, origin)
        }
        await origin.close()
    }
}

@Suite(.timeLimit(.minutes(1))) struct RequestGateTests {
    @Test func pipelinedRequestsAreAnsweredInOrderWhetherForwardedOrHandled() async throws {
        let rules = InterceptionRules(internet: true)
        try await GatedConnection.with(rules: rules) { inbound, outbound, origin in
            // A rule without a port is for port 80; the origin listens elsewhere.
            try rules.interceptOutboundHttp("handled.example:\(origin.port)", Worker(Echo()))
            try await outbound.write(ByteBuffer(string:
                "GET /one HTTP/1.1\r\nHost: out.example\r\n\r\n"
                + "GET /two HTTP/1.1\r\nHost: handled.example\r\n\r\n"
                + "GET /three HTTP/1.1\r\nHost: out.example\r\n\r\n"
                + "GET /four HTTP/1.1\r\nHost: handled.example\r\n\r\n"))
            let answered = try await within(.seconds(20), "four responses") { try await EmbeddedSupport.responses(4, from: inbound) }
            #expect(answered.map(\.status) == [200, 200, 200, 200])
            #expect(answered.count == 4)
            guard answered.count == 4 else { return }
            #expect(answered[0].body.hasPrefix("GET /one\n"), "\(answered[0])")
            #expect(answered[1].body == "handler /two")
            #expect(answered[2].body.hasPrefix("GET /three\n"), "\(answered[2])")
            #expect(answered[3].body == "handler /four")
        }
    }

    @Test func hopByHopFieldsAndThoseConnectionNamesStayBehind() async throws {
        try await GatedConnection.with(rules: InterceptionRules(internet: true)) { inbound, outbound, origin in
            try await outbound.write(ByteBuffer(string:
                "GET http://out.example:8080/p?q=1 HTTP/1.1\r\nHost: ignored.example\r\nConnection: keep-alive, X-Secret\r\n"
                + "X-Secret: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nX-Kept: yes\r\n\r\n"))
            let answer = try #require(try await within(.seconds(20), "a response") { try await EmbeddedSupport.responses(1, from: inbound) }.first)
            #expect(answer.body == "GET /p?q=1\nHost: out.example:8080\nX-Kept: yes\nbody: ", "origin \(origin.port) saw: \(answer.body)")
            #expect(answer.header("X-Origin") == "echo")
            #expect(answer.header("Connection") == nil)
        }
    }

    @Test func aClientThatHalfClosesAfterItsRequestGetsTheResponse() async throws {
        try await GatedConnection.with(rules: InterceptionRules(internet: true)) { inbound, outbound, _ in
            try await outbound.write(ByteBuffer(string: "GET /last HTTP/1.1\r\nHost: out.example\r\n\r\n"))
            outbound.finish()
            let answer = try await within(.seconds(20), "a response") { try await EmbeddedSupport.responses(1, from: inbound) }
            #expect(answer.first?.body.hasPrefix("GET /last\n") == true, "\(answer)")
        }
    }

    /// The same with the order made certain: the handler answers only once the proxy has seen the
    /// client's end of input, so that end waits at the gate while the request is in flight.
    @Test func aHalfCloseThatComesWhileTheHandlerWorksWaitsForItsAnswer() async throws {
        let inputClosed = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: Void.self)
        let rules = InterceptionRules(internet: false)
        try rules.interceptOutboundHttp("127.0.0.1", Worker(AnswersAfter(inputClosed: inputClosed.futureResult)))
        try await LoopbackHTTPProxy.with(rules: rules, destinationPort: 80, clientInputClosed: inputClosed) { inbound, outbound in
            try await outbound.write(ByteBuffer(string: "GET /late HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
            outbound.finish()
            let answer = try await within(.seconds(20), "a response") { try await EmbeddedSupport.responses(1, from: inbound) }
            #expect(answer.map(\.body) == ["answered after the half-close"])
        }
    }

    @Test func anOriginThatIsDownGives502NamingItAndTheConnectionGoesOn() async throws {
        // A port bound but not listening refuses connections, and no other test can take it
        // meanwhile (as one could a port an origin closed).
        let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(holder >= 0)
        defer { close(holder) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                try #require(bind(holder, raw, length) == 0)
                try #require(getsockname(holder, raw, &length) == 0)
            }
        }
        let port = Int(UInt16(bigEndian: address.sin_port))
        try await LoopbackHTTPProxy.with(rules: InterceptionRules(internet: true), destinationPort: port) { inbound, outbound in
            try await outbound.write(ByteBuffer(string: "GET /a HTTP/1.1\r\nHost: out.example\r\n\r\nGET /b HTTP/1.1\r\nHost: out.example\r\n\r\n"))
            let answers = try await within(.seconds(20), "two responses") { try await EmbeddedSupport.responses(2, from: inbound) }
            #expect(answers.map(\.status) == [502, 502])
            #expect(answers.first?.body == "egress: upstream http://127.0.0.1:\(port) (out.example) failed: cannot connect to http://127.0.0.1:\(port) (out.example): connection refused\n")
        }
    }

    @Test func aHandlerThatThrowsHangsOrStreamsIsAnsweredInOrderAndTheConnectionGoesOn() async throws {
        let gate = EmbeddedSupport.Gate()
        defer { gate.open() }
        let rules = InterceptionRules(internet: false)
        try await GatedConnection.with(rules: rules) { inbound, outbound, origin in
            // Only the hanging request's handler has a short timeout: a busy machine that runs a
            // task late must not turn the others' answers into 502s.
            try rules.interceptOutboundHttp("moody.example:\(origin.port)", Worker(Moody(), props: gate, name: "moody"))
            try rules.interceptOutboundHttp(
                "hang.example:\(origin.port)", Worker(Moody(), props: gate, name: "moody", timeout: .milliseconds(100))
            )
            try await outbound.write(ByteBuffer(string:
                "GET /throw HTTP/1.1\r\nHost: moody.example\r\n\r\n"
                + "GET /hang HTTP/1.1\r\nHost: hang.example\r\n\r\n"
                + "GET /stream HTTP/1.1\r\nHost: moody.example\r\n\r\n"))
            let answers = try await within(.seconds(20), "three responses") { try await EmbeddedSupport.responses(3, from: inbound) }
            #expect(answers.map(\.status) == [502, 502, 200])
            guard answers.count == 3 else { return }
            #expect(answers[0].body == "egress: handler moody failed: moody\n")
            #expect(answers[1].body == "egress: handler moody did not answer within 0.1 seconds\n")
            try await gate.entry()
            #expect(gate.entered == 1, "the hung handler started once")
            #expect(answers[2].body == "first,second")
            #expect(answers[2].header("Transfer-Encoding") == "chunked")
        }
    }

    /// A client that resets its connection (a closed one only half-closes it, as far as the
    /// proxy can tell, and gets the answer when it comes) while the handler works.
    @Test func aClientThatLeavesBeforeTheHandlerAnswersStillGetsItsDecisionLine() async throws {
        let gate = EmbeddedSupport.Gate()
        defer { gate.open() }
        let rules = InterceptionRules(internet: false)
        let log = RecordedLog()
        try await GatedConnection.with(rules: rules, logger: log.logger, resetOnClose: true) { _, outbound, origin in
            try rules.interceptOutboundHttp("moody.example:\(origin.port)", Worker(Moody(), props: gate, name: "moody"))
            try await outbound.write(ByteBuffer(string: "GET /hang HTTP/1.1\r\nHost: moody.example\r\n\r\n"))
            try await gate.entry()
        }
        // The client's connection is reset now; the handler never answered.
        let line = await log.line(containing: ["request method=GET url=http://moody.example/hang", "action=handler moody", "status=0"])
        #expect(line?.hasSuffix("error=the client went away before the handler answered") == true, "\(log.recorded)")
    }

    @Test func connectionCloseGetsTheWholeResponseThenTheConnectionCloses() async throws {
        try await GatedConnection.with(rules: InterceptionRules(internet: true)) { inbound, outbound, _ in
            try await outbound.write(ByteBuffer(string: "GET /bye HTTP/1.1\r\nHost: out.example\r\nConnection: close\r\n\r\n"))
            let answers = try await within(.seconds(20), "the connection to close") {
                var responses = EmbeddedSupport.ConnectionResponseReader(inbound)
                return try await responses.readToEnd()
            }
            #expect(answers.count == 1, "\(answers)")
            let answer = try #require(answers.first)
            #expect(answer.body.hasPrefix("GET /bye\n"), "\(answer)")
            #expect(answer.header("Connection") == "close")
        }
    }
}
