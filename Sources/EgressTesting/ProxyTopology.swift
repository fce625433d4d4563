import Foundation
import Synchronization

/// The namespaces of an end-to-end test: a container namespace whose outbound TCP is redirected
/// to `egressd` running inside it (standalone mode, its own upstream sockets exempt by mark), and
/// an origin namespace behind a veth, 198.51.100.2 and 2001:db8::2, where test origins listen.
/// Addresses in 203.0.113.0/24 and the metadata address route to the container's loopback, so
/// connections to them are attempted and redirected. Everything is removed when the object goes.
public final class ProxyTopology: Sendable {
    /// Where `egressd` and the clients run.
    public let container: NetworkNamespace
    /// Where origins run.
    public let origin: NetworkNamespace
    public let link: NamespaceLink
    public let directory: TemporaryDirectory
    /// The proxy's listening port and its upstream mark.
    public let proxyPort: UInt16 = 15001
    public let mark: UInt32 = 0x539
    private let processes = Mutex<[BackgroundProcess]>([])

    public init() throws {
        container = try NetworkNamespace(prefix: "egc")
        origin = try NetworkNamespace(prefix: "ego")
        link = try NetworkNamespace.link(container, origin)
        directory = try TemporaryDirectory("egress-e2e")
        try container.redirectOutboundTCP(toPort: proxyPort, exceptMark: mark)
        try container.routeToLoopback("203.0.113.0/24")
        try container.routeToLoopback("169.254.169.254/32")
    }

    deinit {
        processes.withLock { $0.forEach { $0.stop() } }
        try? FileManager.default.removeItem(atPath: hostsDirectory)
    }

    /// `ip netns exec` mounts `/etc/netns/NAME/hosts` over `/etc/hosts`: names for the container.
    private var hostsDirectory: String {
        "/etc/netns/\(container.name)"
    }

    /// Makes `names` resolve to `address` inside the container namespace (its `/etc/hosts`).
    public func resolve(_ names: [String], to address: String) throws {
        try FileManager.default.createDirectory(atPath: hostsDirectory, withIntermediateDirectories: true)
        let path = hostsDirectory + "/hosts"
        let existing = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "127.0.0.1 localhost\n::1 localhost\n"
        try (existing + "\(address) \(names.joined(separator: " "))\n").write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Starts `egressd run` in the container namespace with `rules` (YAML) and the listen, mark
    /// and state settings of the topology (`upstream`: more keys of the `upstream` section, such
    /// as `extraRoots: FILE`); returns once it listens.
    @discardableResult
    public func startProxy(internet: Bool, extra: String = "", upstream: String = "", rules: String = "rules: []") throws -> BackgroundProcess {
        // Each line of `upstream` under the section's indentation, not only the first.
        let upstream = upstream.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n")
        let config = """
            listen: ["127.0.0.1:\(proxyPort)", "[::1]:\(proxyPort)"]
            mode: redirect
            internet: \(internet)
            stateDirectory: \(directory.path("state"))
            upstream:
              mark: \(mark)
            \(upstream)
            \(extra)
            \(rules)
            """
        let path = try directory.write(config, to: "egress.yaml")
        let egressd = ProcessRunner.productsDirectory.appendingPathComponent("egressd").path
        let proxy = try container.spawn([egressd, "run", "--config", path])
        track(proxy)
        try proxy.waitForLines(containing: "listening", count: 2)
        return proxy
    }

    /// Edits the configuration file ``startProxy(internet:extra:upstream:rules:)`` wrote (its
    /// first `text` becomes `replacement`), sends `proxy` SIGHUP and returns once it reloaded.
    public func reloadProxy(_ proxy: BackgroundProcess, replacing text: String, with replacement: String) throws {
        let configuration = try String(contentsOfFile: directory.path("egress.yaml"), encoding: .utf8)
        guard let range = configuration.range(of: text) else { throw TestSupportError("egress.yaml has no \(text.debugDescription)") }
        try directory.write(configuration.replacingCharacters(in: range, with: replacement), to: "egress.yaml")
        // Counted before the signal: an earlier reload's line must not pass for this one's.
        let reloads = proxy.lines(containing: "reloaded").count
        proxy.send(SIGHUP)
        try proxy.waitForLines(containing: "reloaded", count: reloads + 1)
    }

    /// Starts `egress-example` (the proxy with Swift handlers of Examples/HandlerExample) in the
    /// container namespace, in place of `egressd`; returns once it listens.
    @discardableResult
    public func startHandlerExample(internet: Bool) throws -> BackgroundProcess {
        let example = ProcessRunner.productsDirectory.appendingPathComponent("egress-example").path
        var arguments = [example, "--listen", "127.0.0.1:\(proxyPort)", "--listen", "[::1]:\(proxyPort)"]
        arguments += ["--state-dir", directory.path("state"), "--mark", String(mark)]
        if internet { arguments.append("--internet") }
        let proxy = try container.spawn(arguments)
        track(proxy)
        try proxy.waitForLines(containing: "listening", count: 2)
        return proxy
    }

    /// Starts the JSON echo origin on the origin namespace's addresses at `port`.
    public func startOrigin(port: UInt16 = 80, name: String = "origin") throws {
        for address in [link.b.ipv4, link.b.ipv6] {
            let server = try origin.spawn(OriginServer.command(address: address, port: port, name: name))
            track(server)
            _ = try server.waitForLine(startingWith: "LISTENING")
        }
    }

    /// Runs `argv` in the container namespace, as the container's processes would.
    public func inContainer(_ argv: [String], input: String? = nil, timeout: TimeInterval = 60) throws -> ProcessResult {
        try container.run(argv, input: input, timeout: timeout)
    }

    /// Keeps `process` until the topology goes.
    public func track(_ process: BackgroundProcess) {
        processes.withLock { $0.append(process) }
    }

    /// The path of the proxy's CA certificate (after ``startProxy(internet:extra:rules:)``).
    public var caCertificate: String {
        directory.path("state/ca.crt")
    }
}
