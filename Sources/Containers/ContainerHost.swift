import EgressProxy
// A host's configuration holds the proxy settings: users of containers need not import the proxy.
@_exported import struct EgressProxy.ProxySettings
import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Runs containers, each a process tree in its own network, pid and mount namespaces whose only
/// way out is this process's interception proxy: one proxy serves them all, each container with
/// its own rules, and its decision log lines tagged with its id.
///
/// ```swift
/// let host = try ContainerHost(configuration: .init(settings: .init(stateDirectory: "/var/lib/egress")))
/// let container = try host.makeContainer(id: "web")
/// try container.interceptOutboundHttps("api.example.com", Worker(MyHandler()))
/// try await container.start(ContainerStartOptions(entrypoint: ["curl", "https://api.example.com/"]))
/// try await container.monitor()
/// ```
///
/// Containers whose process died with an earlier host process (a crash) are cleaned up when a
/// host starts on the same state directory. Needs root.
public final class ContainerHost: Sendable {
    /// Where the host keeps its state and what its proxy may do.
    public struct Configuration: Sendable {
        /// The proxy's CA, upstream, `env` and timeouts. The CA (created on first use) and the
        /// containers' scratch directories live in its state directory, which containers never see.
        public var settings: ProxySettings
        /// Host paths hidden from containers that run on the host's file system (no root
        /// directory), such as configuration files holding secrets.
        public var maskedPaths: [String]
        /// The most outbound connections one container may have open through Egress at once;
        /// more are closed as they arrive (so one container cannot use up Egress's descriptors).
        public var connectionLimit: Int

        /// The defaults: the default ``ProxySettings`` (`./state`, its CA, no mark, nothing
        /// allowed, a 0.5 s sniff and a 60 s idle timeout), nothing masked, 1024 connections per
        /// container.
        public init(settings: ProxySettings = ProxySettings(), maskedPaths: [String] = [], connectionLimit: Int = 1024) {
            self.settings = settings
            self.maskedPaths = maskedPaths
            self.connectionLimit = connectionLimit
        }
    }

    let shared: ContainerShared
    private let group: MultiThreadedEventLoopGroup
    private let containers = Mutex<[String: Container]>([:])

    /// Sets up the proxy side (CA, event loops, upstream client) and cleans up after containers
    /// of a host process that died. Throws ``ContainerError/invalidOptions(_:)`` for an `allow`
    /// entry that is not an address or CIDR range or a timeout that is not positive, and the CA's
    /// own error when it cannot be loaded or made.
    public convenience init(configuration: Configuration, logger: Logger = Logger(label: "egress")) throws {
        try self.init(configuration: configuration, logger: logger, resolver: SystemHostNameResolver())
    }

    /// The same, with `resolver` answering the DNS stubs' questions about real names (tests
    /// give one that never leaves the machine).
    package init(configuration: Configuration, logger: Logger, resolver: any HostNameResolver) throws {
        var settings = configuration.settings
        let state = URL(fileURLWithPath: settings.stateDirectory).standardizedFileURL.path
        settings.stateDirectory = state
        let runDirectory = state + "/containers"
        let setup: ProxySetup
        do {
            setup = try ProxySetup(
                internet: false, settings: settings, logger: logger,
                spliceRelay: false   // each run has a relay of its own (ContainerRun), so pass-through ends with it
            )
        } catch let error as ProxySettingError {
            throw ContainerError.invalidOptions(error.description)
        }
        do {
            try FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            setup.group.shutdownGracefully { _ in }
            throw error
        }
        group = setup.group
        shared = ContainerShared(
            services: setup.services, group: setup.group, trust: ContainerTrust(certificatePEM: setup.certificatePEM),
            runDirectory: runDirectory, maskedPaths: configuration.maskedPaths + [state], connectionLimit: configuration.connectionLimit,
            resolver: resolver, logger: logger
        )
        StaleContainers.cleanUp(runDirectory: runDirectory, logger: logger)
    }

    /// The proxy services the containers share (for building configured rules).
    package var services: ProxyServices {
        shared.services
    }

    /// A container with no rules, not started. `id` (letters, digits, `-`, `_`, `.`; at most 63)
    /// names it in logs and is its host name; a random one is made when nil.
    public func makeContainer(id: String? = nil) throws -> Container {
        let id = id ?? "c" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        guard !id.isEmpty, id.count <= 63, !id.hasPrefix("."),
              id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) })
        else {
            throw ContainerError.invalidOptions("container id \(id.debugDescription): use 1 to 63 letters, digits, '-', '_' or '.'")
        }
        let container = Container(id: id, shared: shared)
        try containers.withLock { containers in
            guard containers[id] == nil else { throw ContainerError.invalidOptions("a container with id \(id) exists") }
            containers[id] = container
        }
        return container
    }

    /// Destroys `container` and forgets it, so its id can be used again.
    public func removeContainer(_ container: Container) async {
        await container.destroy()
        containers.withLock { containers in
            if containers[container.id] === container { containers[container.id] = nil }
        }
    }

    /// Destroys every container and stops the event loops.
    public func shutdown() async throws {
        let all = containers.withLock { Array($0.values) }
        for container in all {
            await container.destroy()
        }
        try await group.shutdownGracefully()
    }
}

/// What the containers of one host share.
struct ContainerShared: Sendable {
    /// The proxy services; each container replaces the rules (keeping their destination guard,
    /// the host's `allow`) and tags the logger.
    var services: ProxyServices
    var group: any EventLoopGroup
    var trust: ContainerTrust
    /// One scratch directory per running container, named after its id.
    var runDirectory: String
    var maskedPaths: [String]
    var connectionLimit: Int
    var resolver: any HostNameResolver
    var logger: Logger
}
