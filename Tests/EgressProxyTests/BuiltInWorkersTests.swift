@testable import EgressProxy
import EgressRules
import NIOCore
import NIOPosix
import Testing
import Workers

private struct NoOutboundFetch: Error {}

@Suite(.timeLimit(.minutes(1))) struct BuiltInWorkersTests {
    private func context<Props: Sendable>(
        _ props: Props, originalDestination: String = "203.0.113.7:80"
    ) -> WorkerContext<Props> {
        WorkerContext(
            props: props, connection: InterceptedConnection(source: "198.51.100.1:40000", originalDestination: originalDestination),
            fetch: { _ in throw NoOutboundFetch() }
        )
    }

    private func text(_ response: Response) async throws -> String {
        String(buffer: try await response.body.collect(upTo: 1 << 20))
    }

    /// The origin's echo as lines: request line, `name: value` per field, then the body.
    private func echoLines(_ response: Response) async throws -> [String] {
        try await text(response).components(separatedBy: "\n")
    }

    // MARK: respond

    @Test func respondGivesItsStatusHeadersAndBody() async throws {
        let props = RespondWorker.Props(
            status: 418, headerFields: [.contentType: "text/plain", HTTPField.Name("X-Teapot")!: "short"], body: "tip me over\n"
        )
        let request = try #require(Request(method: .post, url: "http://api.example.com/brew", body: Body("coffee")))
        let response = try await RespondWorker().fetch(request, context: context(props))
        #expect(response.status.code == 418)
        #expect(response.headerFields.map { "\($0.name.rawName): \($0.value)" } == ["Content-Type: text/plain", "X-Teapot: short"])
        #expect(response.body.knownLength == 12, "a fixed body: the client gets a content-length")
        #expect(try await text(response) == "tip me over\n")
    }

    @Test func respondThroughAWorkerUsesItsProps() async throws {
        let worker = Worker(RespondWorker(), props: .init(status: 204, headerFields: [:], body: ""), name: "respond")
        let request = try #require(Request(url: "http://api.example.com/"))
        let invocation = WorkerInvocation(env: [:], logger: Logger(label: "test"), connection: InterceptedConnection(), fetch: { _ in throw NoOutboundFetch() })
        let response = try await worker.handle(request, invocation)
        #expect(response.status == .noContent)
        #expect(response.body.knownLength == 0)
    }

    // MARK: deny

    @Test func denyGivesItsStatusAndNamesTheHost() async throws {
        let request = try #require(Request(url: "http://blocked.example:8080/secret"))
        let response = try await DenyWorker().fetch(request, context: context(451))
        #expect(response.status.code == 451)
        #expect(response.headerFields[.contentType] == "text/plain; charset=utf-8")
        #expect(try await text(response) == "egress: request to blocked.example:8080 denied by rule\n")
    }

    @Test func denyWithoutAHostNamesTheOriginalDestination() async throws {
        let request = Request(head: HTTPRequest(method: .get, scheme: "http", authority: nil, path: "/"))
        let response = try await DenyWorker().fetch(request, context: context(403, originalDestination: "203.0.113.9:80"))
        #expect(response.status == .forbidden)
        #expect(try await text(response) == "egress: request to 203.0.113.9:80 denied by rule\n")
    }

    // MARK: forward

    private func forwarder(allowLoopback: Bool) throws -> ForwardWorker {
        let allowed = allowLoopback ? [try #require(IPNetwork("127.0.0.0/8"))] : []
        return ForwardWorker(upstream: UpstreamClient(group: MultiThreadedEventLoopGroup.singleton), destinationGuard: DestinationGuard(allowed: allowed))
    }

    private func clientRequest() throws -> Request {
        try #require(Request(
            method: .post, url: "http://api.example.com/v1/items?page=2",
            headerFields: [
                .authorization: "Bearer from-the-container", HTTPField.Name("X-Remove-Me")!: "gone",
                HTTPField.Name("X-Keep")!: "Kept Value", .accept: "application/json",
            ],
            body: Body("payload")
        ))
    }

    @Test func forwardToAURLAppliesHeaderChangesAndTheBasePath() async throws {
        let origin = try await EmbeddedSupport.EchoOrigin(group: MultiThreadedEventLoopGroup.singleton)
        let props = ForwardWorker.Props(
            destination: .url(usesTLS: false, authority: "127.0.0.1:\(origin.port)", basePath: "/base"),
            setHeaders: [.authorization: "Bearer injected-secret", HTTPField.Name("X-Added")!: "yes"],
            removeHeaders: [HTTPField.Name("X-Remove-Me")!]
        )
        let response = try await forwarder(allowLoopback: false).fetch(try clientRequest(), context: context(props))
        #expect(response.status == .ok)
        #expect(response.headerFields[HTTPField.Name("X-Origin")!] == "echo")
        let lines = try await echoLines(response)
        #expect(lines.first == "POST /base/v1/items?page=2")
        #expect(lines.contains("Authorization: Bearer injected-secret"))
        #expect(!lines.contains { $0.contains("from-the-container") }, "the container's credential is replaced")
        #expect(lines.contains("X-Added: yes"))
        #expect(!lines.contains { $0.lowercased().hasPrefix("x-remove-me") })
        #expect(lines.contains("X-Keep: Kept Value"))
        #expect(lines.contains("Accept: application/json"))
        #expect(lines.filter { $0.lowercased().hasPrefix("host:") }.count == 1)
        #expect(lines.last == "body: payload")
        #expect(origin.accepted == 1)
        await origin.close()
    }

    @Test func forwardToAURLWithRootBasePathKeepsThePath() async throws {
        let origin = try await EmbeddedSupport.EchoOrigin(group: MultiThreadedEventLoopGroup.singleton)
        let props = ForwardWorker.Props(destination: .url(usesTLS: false, authority: "127.0.0.1:\(origin.port)", basePath: "/"))
        let response = try await forwarder(allowLoopback: false).fetch(try clientRequest(), context: context(props))
        let lines = try await echoLines(response)
        #expect(lines.first == "POST /v1/items?page=2")
        #expect(lines.contains("Authorization: Bearer from-the-container"), "nothing set: the request's own fields go on")
        #expect(lines.contains("X-Remove-Me: gone"))
        await origin.close()
    }

    @Test func forwardToTheOriginalDestinationWhenTheGuardAllowsIt() async throws {
        let origin = try await EmbeddedSupport.EchoOrigin(group: MultiThreadedEventLoopGroup.singleton)
        let props = ForwardWorker.Props(destination: .origin, setHeaders: [HTTPField.Name("X-Injected")!: "1"])
        let response = try await forwarder(allowLoopback: true).fetch(
            try clientRequest(), context: context(props, originalDestination: "127.0.0.1:\(origin.port)")
        )
        let lines = try await echoLines(response)
        #expect(lines.first == "POST /v1/items?page=2")
        #expect(lines.contains("Host: api.example.com"), "the client's Host goes to its original destination")
        #expect(lines.contains("X-Injected: 1"))
        #expect(origin.accepted == 1)
        await origin.close()
    }

    @Test func theGuardRefusesForwardingToLoopbackUnlessAllowed() async throws {
        let origin = try await EmbeddedSupport.EchoOrigin(group: MultiThreadedEventLoopGroup.singleton)
        let destination = "127.0.0.1:\(origin.port)"
        await #expect {
            _ = try await forwarder(allowLoopback: false).fetch(
                try clientRequest(), context: context(ForwardWorker.Props(destination: .origin), originalDestination: destination)
            )
        } throws: { error in
            (error as? UpstreamError)?.description == "\(destination) is a loopback destination, which the proxy does not dial for a container"
        }
        #expect(origin.accepted == 0, "refused before dialling")
        await origin.close()
    }

    @Test(arguments: ["", "not an address", "203.0.113.7", "203.0.113.7:99999"])
    func forwardToOriginWithoutAUsableOriginalDestinationFails(originalDestination: String) async throws {
        await #expect {
            _ = try await forwarder(allowLoopback: true).fetch(
                try clientRequest(), context: context(ForwardWorker.Props(destination: .origin), originalDestination: originalDestination)
            )
        } throws: { error in
            (error as? UpstreamError)?.description == "no original destination to forward to"
        }
    }
}
