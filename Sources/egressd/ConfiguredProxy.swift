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
            // Before "reloaded": whoever waits for that line sees the warning with it.
            let ignored = startOnlyChanges(in: next)
            if !ignored.isEmpty {
                logger.warning("changed settings that apply only at the next start", metadata: ["keys": .string(ignored.joined(separator: ","))])
            }
            logger.info("reloaded", metadata: ["rules": .stringConvertible(next.rules.count), "internet": .stringConvertible(next.internet)])
        } catch {
            logger.error("reload refused; the running configuration stays", metadata: ["error": .string("\(error)")])
        }
    }

    /// The keys whose new values in `next` a reload does not apply (the running ones are the
    /// start's), as the file names them.
    private func startOnlyChanges(in next: ProxyConfiguration) -> [String] {
        let (running, file) = (configuration.proxy.settings, next.proxy.settings)
        let changes: [(String, Bool)] = [
            ("listen", configuration.proxy.listen != next.proxy.listen),
            ("mode", configuration.proxy.transparentProxy != next.proxy.transparentProxy),
            ("stateDirectory", running.stateDirectory != file.stateDirectory),
            ("ca", running.certificateAuthority != file.certificateAuthority),
            ("upstream.mark", running.upstreamMark != file.upstreamMark),
            ("upstream.extraRoots", running.extraRoots != file.extraRoots),
            ("env", running.env != file.env),
            ("timeouts.sniff", running.sniffTimeout != file.sniffTimeout),
            ("timeouts.idle", running.idleTimeout != file.idleTimeout),
        ]
        return changes.filter(\.1).map(\.0)
    }

    private func apply(_ configuration: ProxyConfiguration) {
        proxy.replaceRules(with: configuration.snapshot(upstream: proxy.services.upstream))
    }
}
