import Testing
import Workers

/// A handler that greets with its props and asks the outbound fetch for a second opinion.
private struct Greeter: WorkerEntrypoint {
    struct Props: Sendable {
        var greeting: String
    }

    func fetch(_ request: Request, context: WorkerContext<Props>) async throws -> Response {
        guard let upstream = Request(url: "https://upstream.example/check") else { throw CancellationError() }
        let verdict = try await context.fetch(upstream).body.collect(upTo: 100)
        let text = "\(context.props.greeting) \(request.url) via \(context.connection.originalDestination): \(String(buffer: verdict))"
        return Response(status: .ok, headerFields: [.contentType: "text/plain"], body: Body(text))
    }
}

private struct Silent: WorkerEntrypoint {
    func fetch(_ request: Request, context: WorkerContext<Void>) async throws -> Response {
        Response(status: .noContent)
    }
}

@Suite struct WorkerTests {
    @Test func workerSeesItsPropsConnectionAndOutboundFetch() async throws {
        let worker = Worker(Greeter(), props: .init(greeting: "hello"))
        #expect(worker.name == "Greeter")
        let request = try #require(Request(url: "http://api.example.com/v1?x=1"))
        let invocation = WorkerInvocation(
            env: [:], logger: Logger(label: "test"),
            connection: InterceptedConnection(source: "198.51.100.1:5000", originalDestination: "203.0.113.7:80"),
            fetch: { outbound in
                #expect(outbound.url == "https://upstream.example/check")
                return Response(body: Body("fine"))
            }
        )
        let response = try await worker.handle(request, invocation)
        #expect(response.status == .ok)
        #expect(response.headerFields[.contentType] == "text/plain")
        let text = String(buffer: try await response.body.collect(upTo: 1000))
        #expect(text == "hello http://api.example.com/v1?x=1 via 203.0.113.7:80: fine")
    }

    @Test func workersWithoutPropsAndCustomNames() async throws {
        let worker = Worker(Silent(), name: "quiet", timeout: .seconds(2))
        #expect(worker.name == "quiet")
        #expect(worker.timeout == .seconds(2))
    }

    @Test(arguments: [
        ("http://a.example", "http", "a.example", "/"),
        ("HTTPS://a.example:8443/p/q?r=s", "https", "a.example:8443", "/p/q?r=s"),
        ("http://[2001:db8::1]:8080?x", "http", "[2001:db8::1]:8080", "/?x"),
    ])
    func requestsFromURLs(url: String, scheme: String, authority: String, path: String) throws {
        let request = try #require(Request(url: url))
        #expect(request.head.scheme == scheme)
        #expect(request.head.authority == authority)
        #expect(request.head.path == path)
    }

    @Test(arguments: ["ftp://a.example/", "http://", "a.example/path", "http://user@a.example/", "http://a b/"])
    func requestsRefuseWhatIsNotAnHTTPURL(url: String) {
        #expect(Request(url: url) == nil)
    }
}
