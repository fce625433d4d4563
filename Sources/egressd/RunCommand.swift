import ArgumentParser
import EgressConfiguration
import EgressProxy
import Logging
import ServiceLifecycle

/// `egressd run --config FILE`: the iptables redirect target.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Serve redirected connections by the rules of a configuration file.",
        discussion: "Logs every decision to standard error. SIGHUP reloads the rules (a bad file is refused and the running rules kept); SIGTERM or SIGINT stops accepting and drains open connections."
    )

    @Option(help: "The configuration file (YAML; JSON is valid YAML).")
    var config: String

    @Option(help: "Seconds open connections get to finish on shutdown.")
    var drainSeconds: Int = 10

    func run() async throws {
        DecisionLogHandler.bootstrap()
        let logger = Logger(label: "egress")
        let configuration: ProxyConfiguration
        do {
            configuration = try ProxyConfiguration.load(from: config)
        } catch {
            throw CommandFailure("\(error)")
        }
        let service = try ConfiguredProxy(path: config, configuration: configuration, drainGrace: .seconds(drainSeconds), logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: service)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger
            )
        )
        try await group.run()
    }
}
