@testable import EgressProxy
import EgressTesting
import NIOCore
import NIOPosix
import Testing
import Workers

private struct Echo: WorkerEntrypoint {
    func fetch(_ request: Request, context: WorkerContext<String>) async throws -> Response {
        let body = try await request.body.collect(upTo: 1 << 20)
        let text = "\(context.props) \(request.method) \(request.url) \(body.readableBytes) bytes\n"
        return Response(status: .ok, headerFields: [.contentType: "text/plain"], body: Body(text))
    }
}

/// The proxy on loopback in TPROXY mode, where a connection's local address is its destination:
/// no namespace or root needed to drive the sniffer, the exchange loop, routing and handlers.
@Suite struct LoopbackProxyTests {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    private func start(internet: Bool = false) async throws -> (ProxyServer, Int) {
        let rules = InterceptionRules(internet: internet)
        var limits = ProxyLimits()
        limits.sniffTimeout = .seconds(30)  // a loaded machine may be slow to start curl's request
        let services = ProxyServices(rules: rules, upstream: UpstreamClient(group: group), limits: limits)
        let server = ProxyServer(services: services, group: group)
        let address = try await server.listen(on: try SocketAddress(ipAddress: "127.0.0.1", port: 0), mode: .tproxy)
        return (server, try #require(address.port))
    }

    @Test func handlerAnswersByDestinationAddressAndPort() async throws {
        let (server, port) = try await start()
        try server.services.rules.interceptOutboundHttp("127.0.0.1:\(port)", Worker(Echo(), props: "echo"))
        let result = try await ProcessRunner.run("curl", ["-sS", "--data-binary", "abc", "http://127.0.0.1:\(port)/path?q=1"])
        #expect(result.status == 0, "\(result.combinedOutput)")
        #expect(result.standardOutput == "echo POST http://127.0.0.1:\(port)/path?q=1 3 bytes\n")
        await server.closeListeners()
    }

    @Test func unmatchedRequestWithoutInternetIsDeniedAndTheConnectionStaysUsable() async throws {
        let (server, port) = try await start()
        let url = "http://127.0.0.1:\(port)/"
        let result = try await ProcessRunner.run("curl", ["-sS", "-H", "Host: blocked.example", url, "-H", "Host: blocked.example", url, "-w", "%{http_code} %{num_connects}\n"])
        #expect(result.standardOutput.contains("egress: request to blocked.example denied: no rule intercepts it"))
        #expect(result.standardOutput.hasSuffix("403 0\n"), "\(result.standardOutput)")
        await server.closeListeners()
    }
}
