import ArgumentParser
import Containers
import EgressConfiguration
import EgressProxy
import Foundation
import Logging
import Synchronization
import UnixSignals

/// `egressd container`: containers whose only way out is Egress.
struct ContainerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "container",
        abstract: "Run commands in containers whose outbound traffic Egress intercepts.",
        subcommands: [ContainerRunCommand.self]
    )
}

/// `egressd container run [options] -- COMMAND [ARGS...]`.
struct ContainerRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a command in a new container, with the rules of a configuration file.",
        discussion: """
            The container has its own network, pid and mount namespaces; its outbound TCP goes through \
            Egress by the `rules:` of --config (the same YAML as `egressd run`; its listen, mode and \
            internet keys do not apply), its DNS through a stub on its loopback. Its output is streamed, \
            and egressd exits with its exit code (128 + N when signal N ended it). Ctrl-C or SIGTERM \
            destroys it. Needs root.
            """
    )

    @Option(help: "A configuration file whose rules, CA (ca, stateDirectory), upstream (mark, extraRoots, allow), env and timeouts apply.")
    var config: String?

    @Flag(inversion: .prefixedNo, help: "Let traffic that no rule intercepts out (default: no).")
    var internet = false

    @Option(name: .customLong("env"), help: "An environment variable for the command, NAME=VALUE (repeatable).")
    var environment: [String] = []

    @Option(help: "An unpacked image to run in (default: the host's file system, state directory hidden).")
    var root: String?

    @Option(help: "The working directory inside the container.")
    var workdir: String?

    @Option(help: "The container's id (its host name and the `container` field of log lines).")
    var id: String?

    @Option(help: "Where the CA and the containers' scratch directories live (default: the config's stateDirectory, else ./state).")
    var stateDir: String?

    // After `--` only: captured from the first unknown word instead, `--help` (or a misspelt
    // option) became the command, and a container was started to run it.
    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.")
    var command: [String] = []

    func run() async throws {
        guard !command.isEmpty else { throw ValidationError("give the command to run after --") }
        var env: [String: String] = [:]
        for pair in environment {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw ValidationError("--env \(pair.debugDescription) is not NAME=VALUE")
            }
            env[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
        }
        DecisionLogHandler.bootstrap()
        let logger = Logger(label: "egress")
        let file = try config.map { path in
            do { return try ProxyConfiguration.load(from: path) } catch { throw CommandFailure("\(error)") }
        }
        let host = try ContainerHost(configuration: hostConfiguration(file: file), logger: logger)
        let container = try host.makeContainer(id: id)
        if let file {
            container.replaceRules { file.snapshot(upstream: host.services.upstream, destinationGuard: $0) }
        }
        let status = await Self.run(container, ContainerStartOptions(
            entrypoint: command, env: env, enableInternet: internet, rootDirectory: root, workingDirectory: workdir
        ), logger: logger)
        try await host.shutdown()
        throw ExitCode(status)
    }

    /// The host's settings: the state directory (`--state-dir` first), and the CA, `upstream`,
    /// `env` and `timeouts` of the configuration file, whose own path is hidden from the container.
    private func hostConfiguration(file: ProxyConfiguration?) -> ContainerHost.Configuration {
        var settings = file?.proxy.settings ?? ProxySettings()
        if let stateDir { settings.stateDirectory = stateDir }
        return ContainerHost.Configuration(
            settings: settings, maskedPaths: config.map { [URL(fileURLWithPath: $0).standardizedFileURL.path] } ?? []
        )
    }

    /// Starts the container and waits for its end or for SIGINT/SIGTERM (trapped from before the
    /// start, so one that arrives while it starts destroys it too); returns the exit status.
    private static func run(_ container: Container, _ options: ContainerStartOptions, logger: Logger) async -> Int32 {
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        let interrupted = Interruption()
        return await withTaskGroup(of: Int32?.self) { tasks in
            tasks.addTask {
                for await signal in signals {
                    logger.info("destroying the container", metadata: ["signal": .string("\(signal)")])
                    interrupted.signal.store(signal == .sigint ? SIGINT : SIGTERM, ordering: .sequentiallyConsistent)
                    await container.destroy("egressd received \(signal)")
                    return 128 + interrupted.signal.load(ordering: .sequentiallyConsistent)
                }
                return nil
            }
            tasks.addTask {
                do {
                    try await container.start(options)
                } catch {
                    logger.error("the container did not start", metadata: ["error": .string("\(error)")])
                    return 125
                }
                if interrupted.signal.load(ordering: .sequentiallyConsistent) != 0 { await container.destroy("interrupted while starting") }
                return await exitStatus(of: container)
            }
            while let next = await tasks.next() {
                if let status = next {
                    tasks.cancelAll()
                    return status
                }
            }
            return 1
        }
    }

    /// The container's exit status once it ends: its code, 128 + N for signal N; nil when it was
    /// destroyed (by a signal, whose handler decides the status).
    private static func exitStatus(of container: Container) async -> Int32? {
        do {
            try await container.monitor()
            return 0
        } catch ContainerError.exited(let code) {
            return code
        } catch ContainerError.signalled(let number) {
            return 128 + number
        } catch ContainerError.destroyed {
            return nil
        } catch {
            return 1
        }
    }
}

/// The signal that interrupted `egressd container run` (0: none yet).
private final class Interruption: Sendable {
    let signal = Atomic<Int32>(0)
}
