import EgressLinux
import EgressProxy
import Foundation
import Synchronization
import Workers

/// A container: a process tree in its own network, pid and mount namespaces whose only way out
/// is the host's interception proxy (`ctx.container` of Cloudflare Containers). Make one with
/// ``ContainerHost/makeContainer(id:)``.
///
/// Rules can be added before ``start(_:)`` (they apply from the first connection) or while it
/// runs (open connections pick them up on their next request).
public final class Container: Sendable {
    /// The container's id: its host name, and the `container` field of its log lines.
    public let id: String
    let rules: InterceptionRules
    private let shared: ContainerShared
    private let state = Mutex(State())

    private struct State {
        /// The current run, from a successful start until it has been torn down.
        var run: ContainerRun?
        var starting = false
        /// Set once init has ended, with the tear-down then under way.
        var exited = false
        var tearDown: Task<Void, Never>?
        /// `destroy` was called for the current run.
        var destroyRequest: DestroyRequest?
        /// How the last run ended.
        var outcome: Result<Void, ContainerError>?
        var monitors: [CheckedContinuation<Void, any Error>] = []

        /// The run while its init lives.
        var live: ContainerRun? { exited ? nil : run }
    }

    /// A `destroy` of the current run, and the reason given to it.
    private struct DestroyRequest {
        var reason: String?
    }

    init(id: String, shared: ContainerShared) {
        self.id = id
        self.shared = shared
        rules = InterceptionRules(internet: false, destinationGuard: shared.services.rules.snapshot.destinationGuard)
    }

    /// Whether the container's entrypoint runs (true once ``start(_:)`` returned, until it ends).
    public var running: Bool {
        state.withLock { $0.live != nil }
    }

    /// Starts the entrypoint and returns once it was executed (not once it is ready). Throws
    /// ``ContainerError/alreadyRunning`` while the container runs, ``ContainerError/invalidOptions(_:)``
    /// for bad options and ``ContainerError/startFailed(_:)`` when the entrypoint cannot be run.
    public func start(_ options: ContainerStartOptions) async throws {
        try options.validate()
        // A run that just ended may still be tearing down; a new one starts after it.
        await state.withLock { $0.exited ? $0.tearDown : nil }?.value
        try state.withLock { state throws(ContainerError) in
            guard state.run == nil, !state.starting else { throw .alreadyRunning }
            state = State(starting: true, monitors: state.monitors)
        }
        rules.setInternet(options.enableInternet)
        let run: ContainerRun
        do {
            run = try await ContainerRun.start(id: id, options: options, rules: rules, shared: shared)
        } catch {
            let failure = error as? ContainerError ?? .system("\(error)")
            finish(outcome: .failure(failure))
            throw failure
        }
        let destroyRequested = state.withLock { state in
            state.starting = false
            state.run = run
            return state.destroyRequest != nil
        }
        Thread.detachNewThread { [self] in
            let exit = run.waitForExit()
            state.withLock { state in
                let outcome = Self.outcome(of: exit, destroyRequest: state.destroyRequest)
                state.exited = true
                state.tearDown = Task {
                    await run.tearDown(outcome: Self.describe(outcome))
                    finish(outcome: outcome)
                }
            }
        }
        if destroyRequested { run.initProcess.kill() }
    }

    /// Resolves when the entrypoint exits with code 0, or when ``destroy(_:)`` ends the container
    /// without a reason; throws ``ContainerError/exited(code:)``, ``ContainerError/signalled(_:)``
    /// or ``ContainerError/destroyed(reason:)`` otherwise. After the container ended, reports how
    /// it ended (a start that failed included); throws ``ContainerError/notRunning`` if no start
    /// was ever tried.
    public func monitor() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            state.withLock { state in
                if state.run != nil || state.starting {
                    state.monitors.append(continuation)
                } else if let outcome = state.outcome {
                    continuation.resume(with: outcome.mapError { $0 })
                } else {
                    continuation.resume(throwing: ContainerError.notRunning)
                }
            }
        }
    }

    /// Sends signal `number` (1...64) to the entrypoint; `SIGKILL` (9) ends the whole container.
    public func signal(_ number: Int32) throws {
        guard (1...64).contains(number) else { throw ContainerError.invalidSignal(number) }
        let run = state.withLock { $0.live }
        guard let run else { throw ContainerError.notRunning }
        run.initProcess.send(number)
    }

    /// Kills every process of the container and returns once they are gone and its network is
    /// torn down; ``monitor()`` then throws ``ContainerError/destroyed(reason:)`` with `reason`,
    /// or resolves when there is none. Does nothing when the container is not running.
    public func destroy(_ reason: String? = nil) async {
        let (run, active) = state.withLock { state in
            guard state.run != nil || state.starting else { return (ContainerRun?.none, false) }
            if state.destroyRequest == nil, !state.exited { state.destroyRequest = DestroyRequest(reason: reason) }
            return (state.live, true)
        }
        guard active else { return }
        run?.initProcess.kill()
        _ = try? await monitor()
    }

    /// Port `port` of the container, reached through its own network namespace.
    public func getTcpPort(_ port: UInt16) -> ContainerTCPPort {
        ContainerTCPPort(container: self, port: port, group: shared.group)
    }

    /// Whether a ``start(_:)`` is under way.
    var isStarting: Bool {
        state.withLock { $0.starting }
    }

    /// The host pid of the running container's init.
    var initProcessID: pid_t? {
        state.withLock { $0.live?.initProcess.pid }
    }

    /// A descriptor of the running container's network namespace, for sockets made inside it;
    /// the caller closes it.
    func duplicateNetworkNamespace() -> CInt? {
        state.withLock { $0.live?.initProcess.duplicateNetworkNamespace() }
    }

    /// Routes the container's plain HTTP requests to `target` (hostname, glob, IP, IP:port, CIDR)
    /// through `worker`; first registered wins, registering a target again replaces its handler.
    public func interceptOutboundHttp(_ target: String, _ worker: Worker) throws {
        try rules.interceptOutboundHttp(target, worker)
    }

    /// Routes every plain HTTP request of the container on port 80 (any address, both families)
    /// through `worker`.
    public func interceptAllOutboundHttp(_ worker: Worker) {
        rules.interceptAllOutboundHttp(worker)
    }

    /// Intercepts the container's HTTPS to `target` (hostname or glob; `*` for all) and routes its
    /// requests through `worker`. Clients inside trust the proxy's CA through
    /// `/etc/cloudflare/certs/cloudflare-containers-ca.crt` and the trust variables.
    public func interceptOutboundHttps(_ target: String, _ worker: Worker) throws {
        try rules.interceptOutboundHttps(target, worker)
    }

    /// Replaces every rule at once with the ones `make` builds (a configuration's rules) for the
    /// host's destination guard, which their `forward` handlers must follow too; the internet
    /// setting comes from the start options and the guard stays the host's.
    package func replaceRules(_ make: (_ destinationGuard: DestinationGuard) -> InterceptionRules.Snapshot) {
        let current = rules.snapshot
        var snapshot = make(current.destinationGuard)
        snapshot.internet = current.internet
        snapshot.destinationGuard = current.destinationGuard
        rules.replace(with: snapshot)
    }

    private static func describe(_ outcome: Result<Void, ContainerError>) -> String {
        switch outcome {
        case .success: "ended (exit code 0, or destroyed)"
        case .failure(let error): error.description
        }
    }

    private static func outcome(of exit: ContainerInit.Exit, destroyRequest: DestroyRequest?) -> Result<Void, ContainerError> {
        switch (destroyRequest, exit) {
        case (.some(let request), _): request.reason.map { .failure(.destroyed(reason: $0)) } ?? .success(())
        case (.none, .exited(0)): .success(())
        case (.none, .exited(let code)): .failure(.exited(code: code))
        case (.none, .signalled(let number)): .failure(.signalled(number))
        case (.none, .initKilled): .failure(.signalled(SIGKILL))
        }
    }

    private func finish(outcome: Result<Void, ContainerError>) {
        let monitors = state.withLock { state in
            defer { state = State(outcome: outcome) }
            return state.monitors
        }
        for monitor in monitors {
            monitor.resume(with: outcome.mapError { $0 })
        }
    }
}
