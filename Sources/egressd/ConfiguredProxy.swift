import EgressConfiguration
import EgressProxy
import Logging
import ServiceLifecycle
import UnixSignals

/// The proxy `egressd run` serves: the library's ``InterceptionProxy`` made from a configuration
/// file, with the file's rules, reloaded from it on SIGHUP.
struct ConfiguredProxy: Service {
    let path: String
    let configuration: ProxyConfiguration
    let logger: Logger
    private let proxy: InterceptionProxy

    init(path: String, configuration: ProxyConfiguration, drainGrace: Duration, logger: Logger) throws {
        self.path = path
        self.configuration = configuration
        self.logger = logger
        var settings = configuration.proxy
        settings.drainGrace = drainGrace
        proxy = try InterceptionProxy(configuration: settings, logger: logger)
        apply(configuration)
    }

    /// Listens, reloads on SIGHUP, and drains on graceful shutdown.
    func run() async throws {
        logger.info("rules", metadata: [
            "rules": .stringConvertible(configuration.rules.count), "internet": .stringConvertible(configuration.internet),
        ])
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                for await _ in await UnixSignalsSequence(trapping: .sighup) {
                    reload()
                }
            }
            try await proxy.run()
            tasks.cancelAll()
        }
    }

    /// Applies the file's rules, internet setting and `upstream.allow` now; a bad file changes
    /// nothing.
    private func reload() {
        do {
            let next = try ProxyConfiguration.load(from: path)
            apply(next)
            logger.info("reloaded", metadata: ["rules": .stringConvertible(next.rules.count), "internet": .stringConvertible(next.internet)])
            // Only rules, internet and allow apply live; say so rather than diff every other key.
            logger.info("other settings (listen, mode, CA, upstream mark and roots, env, sniff and idle timeouts) apply at the next start")
        } catch {
            logger.error("reload refused; the running configuration stays", metadata: ["error": .string("\(error)")])
        }
    }

    private func apply(_ configuration: ProxyConfiguration) {
        proxy.replaceRules(with: configuration.snapshot(upstream: proxy.services.upstream))
    }
}
