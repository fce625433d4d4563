import EgressLinux
import EgressProxy
import Foundation
import Logging
import NIOCore

/// One run of a container: its init, its network (the proxy's listener and the DNS stub inside
/// the container's namespace) and its scratch directory, from start to tear-down.
final class ContainerRun: Sendable {
    let initProcess: ContainerInit
    private let server: ProxyServer
    private let relay: SpliceRelay?
    private let dns: ContainerDNSServer
    private let scratch: String

    private init(initProcess: ContainerInit, server: ProxyServer, relay: SpliceRelay?, dns: ContainerDNSServer, scratch: String) {
        self.initProcess = initProcess
        self.server = server
        self.relay = relay
        self.dns = dns
        self.scratch = scratch
    }

    /// Clones init, sets up its network and serves it, then lets it start the entrypoint.
    static func start(
        id: String, options: ContainerStartOptions, rules: InterceptionRules, shared: ContainerShared
    ) async throws -> ContainerRun {
        let scratch = shared.runDirectory + "/" + id
        let (initProcess, network) = try await onOwnThread {
            try prepare(id: id, options: options, shared: shared, scratch: scratch)
        }
        var services = shared.services
        services.rules = rules
        services.logger[metadataKey: "container"] = .string(id)
        // A relay of its own: pass-through connections of the container end with it.
        let relay = SpliceRelay.made(warningTo: services.logger)
        services.spliceRelay = relay
        let server = ProxyServer(services: services, group: shared.group, connectionLimit: shared.connectionLimit)
        var dnsSocketsUnclaimed = true
        do {
            try await server.listen(boundSocket: network.listener, mode: .redirect)
            // The DNS server owns its sockets from here on, and closes them if it fails to start.
            dnsSocketsUnclaimed = false
            let dns = try await ContainerDNSServer.start(
                group: shared.group, boundSockets: network.dnsSockets, policy: rules.dnsPolicy,
                resolver: shared.resolver, logger: services.logger
            )
            do {
                try await onOwnThread { try initProcess.start() }
            } catch {
                await dns.close()
                throw error
            }
            services.logger.info("container started", metadata: [
                "pid": .stringConvertible(initProcess.pid), "entrypoint": .string(options.entrypoint.joined(separator: " ")),
                "internet": .stringConvertible(options.enableInternet),
            ])
            return ContainerRun(initProcess: initProcess, server: server, relay: relay, dns: dns, scratch: scratch)
        } catch {
            initProcess.kill()
            _ = try? await onOwnThread { initProcess.waitForExit() }
            await server.drain(grace: .zero)
            relay?.shutdown()
            StaleContainers.remove(scratch)
            if dnsSocketsUnclaimed { network.dnsSockets.forEach { close($0) } }
            if let failure = error as? LinuxError { throw ContainerError.startFailed(failure.description) }
            throw error
        }
    }

    /// Blocks until init ends; then the run must be torn down.
    func waitForExit() -> ContainerInit.Exit {
        initProcess.waitForExit()
    }

    /// Closes the listener, the connections and the DNS stub, removes the scratch directory,
    /// and logs how the container ended.
    func tearDown(outcome: String) async {
        await server.drain(grace: .zero)
        relay?.shutdown()
        await dns.close()
        StaleContainers.remove(scratch)
        // Before monitor() and destroy() return: whoever still holds this run (the task that
        // tore it down) lets go of it later, and the namespace must not outlive the container.
        initProcess.releaseNetworkNamespace()
        server.services.logger.info("container ended", metadata: ["outcome": .string(outcome)])
    }

    /// The blocking part of a start: scratch directory, init, record, network.
    private static func prepare(
        id: String, options: ContainerStartOptions, shared: ContainerShared, scratch: String
    ) throws -> (ContainerInit, ContainerNetwork) {
        try StaleContainers.claim(scratch, id: id)
        let initProcess: ContainerInit
        do {
            initProcess = try makeInit(id: id, options: options, shared: shared, scratch: scratch)
        } catch {
            StaleContainers.remove(scratch)
            throw error
        }
        do {
            try StaleContainers.record(initProcess.pid, in: scratch)
            return (initProcess, try ContainerNetwork.setUp(namespace: initProcess.networkNamespacePath, workDirectory: scratch))
        } catch {
            initProcess.kill()
            _ = initProcess.waitForExit()
            StaleContainers.remove(scratch)
            throw error
        }
    }

    private static func makeInit(id: String, options: ContainerStartOptions, shared: ContainerShared, scratch: String) throws -> ContainerInit {
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        guard null >= 0 else { throw ContainerError.system("cannot open /dev/null") }
        defer { close(null) }
        let (output, error): (CInt, CInt) = switch options.output {
        case .inherit: (STDOUT_FILENO, STDERR_FILENO)
        case .discard: (null, null)
        case .descriptors(let output, let error): (output, error)
        }
        let environment = ContainerTrust.environment(options.env, hostname: id)
        let specification = ContainerInit.Specification(
            arguments: options.entrypoint, environment: environment.map { "\($0.key)=\($0.value)" }.sorted(),
            searchPath: environment["PATH"] ?? ContainerTrust.defaultSearchPath, standardInput: null,
            standardOutput: output, standardError: error, root: options.rootDirectory,
            workingDirectory: options.workingDirectory, hostname: id, scratchDirectory: scratch,
            files: shared.trust.files(hostname: id, rootDirectory: options.rootDirectory), maskedPaths: shared.maskedPaths
        )
        do {
            return try ContainerInit(specification)
        } catch {
            throw ContainerError.system("cannot create the container's namespaces: \(error)")
        }
    }
}
