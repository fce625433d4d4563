import ArgumentParser
import Containers
import EgressConfiguration
import Foundation
import Logging
import NIOPosix
import Workers

/// `egressd demo`: interception end to end, with nothing prepared. A container without internet
/// runs real clients (curl, python3); Swift handlers answer two hosts, a `forward` rule hands a
/// third to a local service with a secret added, and the rest is denied. Prints what each client
/// saw and what Egress decided, checks it, and removes everything it made.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Show interception end to end in a throwaway container (needs root, curl and python3)."
    )

    func run() async throws {
        LoggingSystem.bootstrap { _ in DemoLogHandler() }
        let logger = Logger(label: "egress")
        var template = Array((NSTemporaryDirectory() + "/egress-demo.XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw CommandFailure("cannot create a temporary directory") }
        let directory = String(cString: made)
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let origin = try await DemoOrigin.start(group: MultiThreadedEventLoopGroup.singleton)
        let host = try ContainerHost(configuration: .init(settings: .init(stateDirectory: directory + "/state")), logger: logger)
        let container = try host.makeContainer(id: "demo")
        let configuration = try ProxyConfiguration.parse("""
            rules:
              - http: secrets.demo.test
                forward: { to: "http://127.0.0.1:\(origin.port)", setHeaders: { authorization: "Bearer demo-secret-token" } }
            """, relativeTo: directory)
        container.replaceRules { configuration.snapshot(upstream: host.services.upstream, destinationGuard: $0) }
        try container.interceptOutboundHttp("api.demo.test", Worker(DemoHandler(), name: "DemoHandler"))
        try container.interceptOutboundHttps("secure.demo.test", Worker(DemoHandler(), name: "DemoHandler"))

        DemoOutput.print("""
            Egress demo: container "demo" has no internet; Egress intercepts its outbound traffic.
              http  api.demo.test      -> Swift handler DemoHandler
              https secure.demo.test   -> Swift handler DemoHandler (TLS with a leaf from Egress's CA)
              http  secrets.demo.test  -> forward to the internal service 127.0.0.1:\(origin.port), adding a secret
              anything else            -> denied (no internet)
            """)
        let output = try await DemoContainerOutput.run(container, script: Self.script)
        try await host.shutdown()
        await origin.close()
        try check(output)
    }

    /// The entrypoint: each step's header, then the commands with what they printed.
    private static let script = #"""
        step() { echo "== $1"; }
        show() { echo "\$ $*"; "$@" 2>&1; echo "(exit $?)"; }
        step "1. HTTP to an intercepted host: a Swift handler answers"
        show curl -sS http://api.demo.test/hello
        step "2. HTTPS to an intercepted host: a Swift handler answers, TLS verified against the CA Egress put in the container"
        show curl -sS https://secure.demo.test/account
        show python3 -c 'import urllib.request; print(urllib.request.urlopen("https://secure.demo.test/from-python").read().decode(), end="")'
        step "3. A secret injected by a forward rule: the container never holds it"
        show curl -sS http://secrets.demo.test/v1/whoami
        step "4. No internet: what no rule intercepts is denied"
        show curl -sS http://203.0.113.10/
        show curl -sS https://example.com/
        """#

    /// Fails the command unless every step showed what it should.
    private func check(_ output: String) throws {
        let expectations = [
            ("HTTP answered by the handler", "hello from DemoHandler: GET http://api.demo.test/hello"),
            ("HTTPS answered by the handler (curl)", "hello from DemoHandler: GET https://secure.demo.test/account (TLS, SNI secure.demo.test)"),
            ("HTTPS answered by the handler (python3)", "hello from DemoHandler: GET https://secure.demo.test/from-python (TLS, SNI secure.demo.test)"),
            ("the secret reached the internal service", "internal service got GET /v1/whoami with authorization: Bearer demo-secret-token"),
            ("plain HTTP denied", "egress: request to 203.0.113.10 denied"),
            ("unknown names do not resolve", "Could not resolve host: example.com"),
        ]
        let failed = expectations.filter { !output.contains($0.1) }
        guard failed.isEmpty else {
            throw CommandFailure("demo check failed: " + failed.map(\.0).joined(separator: "; "))
        }
        DemoOutput.print("\nAll \(expectations.count) checks passed; the container, its namespaces and the demo's state are gone.")
    }
}

/// The demo's Swift handler: says who answered, and what it saw.
struct DemoHandler: WorkerEntrypoint {
    func fetch(_ request: Request, context: WorkerContext<Void>) async throws -> Response {
        let tls = context.connection.serverName.map { " (TLS, SNI \($0))" } ?? ""
        return Response(status: .ok, headerFields: [.contentType: "text/plain"], body: Body("hello from DemoHandler: \(request.method) \(request.url)\(tls)\n"))
    }
}
