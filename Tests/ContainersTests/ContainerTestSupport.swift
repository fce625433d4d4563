import Containers
import EgressTesting
import Foundation
import Logging
import Workers
import XCTest

/// A container host on a temporary state directory, whose DNS stubs resolve names from a fixed
/// table (so no test ever asks the machine's resolver), and helpers to run containers and read
/// what they printed.
final class ContainerFixture: Sendable {
    let directory: TemporaryDirectory
    let host: ContainerHost

    /// Skips unless root; `names` are what the host's "real" resolver knows; `configuration`'s
    /// state directory is replaced by a temporary one. The host shuts down (destroying its
    /// containers) when `test` ends.
    init(
        _ test: XCTestCase, names: [String: Result<HostAddresses, HostNameResolutionError>] = [:],
        configuration: ContainerHost.Configuration = .init()
    ) throws {
        try XCTSkipUnless(NetworkNamespace.isRoot, "containers need root (namespaces, mounts, iptables); run the tests as root")
        // Not in /tmp, which containers see as their own empty tmpfs: tests check that the state
        // directory is hidden from them, which only shows where they could otherwise see it.
        directory = try TemporaryDirectory("egress-containers", in: "/var/lib")
        var logger = Logger(label: "egress-test")
        // EGRESS_TEST_LOG=debug shows the decision log of the containers' proxy.
        logger.logLevel = ProcessInfo.processInfo.environment["EGRESS_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        var configuration = configuration
        configuration.settings.stateDirectory = directory.path("state")
        host = try ContainerHost(configuration: configuration, logger: logger, resolver: TableResolver(names))
        let host = self.host
        test.addTeardownBlock {
            try? await host.shutdown()
        }
    }

    /// The CA certificate the containers trust.
    var caCertificate: String { directory.path("state/ca.crt") }

    /// Opens a fresh output file for a container and returns its descriptor and path.
    func outputFile(_ name: String) throws -> (CInt, String) {
        let path = directory.path(name)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw TestSupportError("cannot create \(path)") }
        return (fd, path)
    }

    /// Starts `container` with a shell `script` (output and errors to one file); returns the
    /// file's path.
    func start(_ container: Container, script: String, env: [String: String] = [:], internet: Bool = false) async throws -> String {
        let (fd, path) = try outputFile("\(container.id).out")
        defer { close(fd) }
        try await container.start(ContainerStartOptions(
            entrypoint: ["/bin/sh", "-c", script], env: env, enableInternet: internet,
            output: .descriptors(standardOutput: fd, standardError: fd)
        ))
        return path
    }

    /// Runs `script` in a new container to its end; returns its output and how it ended.
    func run(
        _ script: String, in container: Container? = nil, env: [String: String] = [:], internet: Bool = false
    ) async throws -> (output: String, outcome: Result<Void, any Error>) {
        let container = try container ?? host.makeContainer()
        let path = try await start(container, script: script, env: env, internet: internet)
        let outcome: Result<Void, any Error>
        do {
            try await container.monitor()
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        return ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "", outcome)
    }

    /// Waits (bounded) until `path` contains `text`.
    func waitFor(_ text: String, in path: String, seconds: Double = 20) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while true {
            // Read before the deadline is checked: a wake-up late past it still gets a last look.
            let timeUp = Date() >= deadline
            if let output = try? String(contentsOfFile: path, encoding: .utf8), output.contains(text) { return }
            if timeUp { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let output = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        throw TestSupportError("\"\(text)\" did not appear in \(path) within \(seconds) s; it holds:\n\(output)")
    }
}

/// A handler that answers with a fixed text and echoes what it saw in headers.
struct TextWorker: WorkerEntrypoint {
    let text: String

    func fetch(_ request: Request, context: WorkerContext<Void>) async throws -> Response {
        let seen = "\(request.method) \(request.url) sni=\(context.connection.serverName ?? "-")"
        return Response(status: .ok, headerFields: [.contentType: "text/plain", .init("x-seen")!: seen], body: Body("\(text)\n"))
    }
}
