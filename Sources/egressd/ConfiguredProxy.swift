import EgressCertificates
import EgressConfiguration
import EgressProxy
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import UnixSignals

/// The proxy `egressd run` serves, built from a configuration file and reloaded from it on SIGHUP.
struct ConfiguredProxy: Service {
    let path: String
    let configuration: ProxyConfiguration
    let drainGrace: Duration
    let logger: Logger
    private let server: ProxyServer
    private let group: MultiThreadedEventLoopGroup

    init(path: String, configuration: ProxyConfiguration, drainGrace: Duration, logger: Logger) throws {
        self.path = path
        self.configuration = configuration
        self.drainGrace = drainGrace
        self.logger = logger
        let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
        self.group = group
        let store = ProxySetup.certificateStore(
            stateDirectory: configuration.stateDirectory, certificateAuthority: configuration.certificateAuthority
        )
        var services = try ProxySetup.services(
            rules: InterceptionRules(internet: configuration.internet), group: group, certificateStore: store,
            upstreamMark: configuration.upstreamMark, extraRoots: configuration.extraRoots, allow: configuration.allow,
            env: configuration.env, logger: logger
        )
        services.limits.sniffTimeout = TimeAmount(configuration.sniffTimeout)
        services.limits.idleTimeout = TimeAmount(configuration.idleTimeout)
        services.rules.replace(with: configuration.snapshot(upstream: services.upstream, destinationGuard: services.destinationGuard))
        self.server = ProxyServer(services: services, group: group)
    }

    func run() async throws {
        for address in configuration.listen {
            let bound = try await server.listen(on: address, mode: configuration.mode)
            logger.info("listening", metadata: [
                "address": .string("\(bound)"), "mode": .string(configuration.mode.rawValue),
                "rules": .stringConvertible(configuration.rules.count), "internet": .stringConvertible(configuration.internet),
            ])
        }
        await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                for await _ in await UnixSignalsSequence(trapping: .sighup) {
                    reload()
                }
            }
            try? await gracefulShutdown()
            tasks.cancelAll()
        }
        logger.info("draining", metadata: ["connections": .stringConvertible(server.openConnections)])
        await server.drain(grace: drainGrace)
        try await group.shutdownGracefully()
    }

    /// Applies the file's rules and internet setting now; a bad file changes nothing.
    private func reload() {
        do {
            let next = try ProxyConfiguration.load(from: path)
            let services = server.services
            services.rules.replace(with: next.snapshot(upstream: services.upstream, destinationGuard: services.destinationGuard))
            logger.info("reloaded", metadata: ["rules": .stringConvertible(next.rules.count), "internet": .stringConvertible(next.internet)])
            // Only the rules and internet apply live; say so rather than diff every other key.
            logger.info("other settings (listen, mode, CA, upstream, env, sniff and idle timeouts) apply at the next start")
        } catch {
            logger.error("reload refused; the running configuration stays", metadata: ["error": .string("\(error)")])
        }
    }
}
