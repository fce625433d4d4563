import Foundation
import Synchronization
import Testing

/// A network namespace that a test made for itself, with only loopback (up) in it, deleted
/// again when the object goes away (also when the test fails).
///
/// Everything a test adds, addresses, routes, links, iptables rules, goes into namespaces like
/// this one and never into the namespace the tests started in. Names are unique per process and
/// call (`PREFIX-PID-N`), since tests run in parallel.
public final class NetworkNamespace: Sendable {
    /// The namespace's name, as `ip netns` knows it.
    public let name: String

    private let removed = Atomic(false)

    /// Numbers namespaces, and the veth interfaces of ``link(_:_:ipv4:ipv6:)``, within this process.
    static let counter = Atomic(0)

    /// Whether the tests run as root, as creating namespaces and iptables rules needs.
    public static var isRoot: Bool {
        geteuid() == 0
    }

    /// Creates a namespace named `PREFIX-PID-N` and brings its loopback up. Namespaces of this
    /// form left by a test process that no longer exists (one that crashed or was killed) are
    /// removed first.
    public init(prefix: String = "egt") throws {
        _ = Self.removeStale
        name = "\(prefix)-\(getpid())-\(Self.counter.add(1, ordering: .relaxed).newValue)"
        try Self.checked("ip", ["netns", "add", name])
        do {
            try ip("link", "set", "lo", "up")
        } catch {
            remove()
            throw error
        }
    }

    deinit {
        remove()
    }

    /// Once per test process: deletes this support's `egPREFIX-PID-N` namespaces whose PID is
    /// gone (a crashed or killed test run), the processes still inside them, and the
    /// `/etc/netns/NAME` files a topology may have left.
    private static let removeStale: Void = {
        for stale in (try? list()) ?? [] {
            let parts = stale.split(separator: "-")
            guard parts.count == 3, parts[0].hasPrefix("eg"), let pid = pid_t(parts[1]), pid != getpid(),
                  kill(pid, 0) != 0, errno == ESRCH
            else { continue }
            let orphans = (try? ProcessRunner.run("ip", ["netns", "pids", stale]).standardOutput) ?? ""
            for orphan in orphans.split(separator: "\n").compactMap({ pid_t($0) }) {
                kill(orphan, SIGKILL)
            }
            _ = try? ProcessRunner.run("ip", ["netns", "delete", stale])
            try? FileManager.default.removeItem(atPath: "/etc/netns/\(stale)")
        }
    }()

    /// The namespace file (`/run/netns/NAME`), for `setns(2)` and so for
    /// `NetworkNamespaceSockets`.
    public var path: String {
        "/run/netns/\(name)"
    }

    /// Runs `ip -n NAME ARGUMENTS...` and throws with its output if it fails.
    public func ip(_ arguments: String...) throws {
        try Self.checked("ip", ["-n", name] + arguments)
    }

    /// Runs `argv` inside the namespace (`ip netns exec NAME ...`) to completion.
    public func run(
        _ argv: [String],
        input: String? = nil,
        timeout: TimeInterval = 30
    ) throws -> ProcessResult {
        try ProcessRunner.run("ip", ["netns", "exec", name] + argv, input: input, timeout: timeout)
    }

    /// Runs `argv` inside the namespace and throws with its output if it exits with a failure.
    @discardableResult
    public func runChecked(_ argv: [String], input: String? = nil, timeout: TimeInterval = 30) throws -> ProcessResult {
        let result = try run(argv, input: input, timeout: timeout)
        guard result.status == 0 else {
            throw TestSupportError("in \(name): \(argv.joined(separator: " ")) exited \(result.status):\n\(result.combinedOutput)")
        }
        return result
    }

    /// Starts a long-running program inside the namespace, such as an origin server.
    public func spawn(_ argv: [String]) throws -> BackgroundProcess {
        try BackgroundProcess("ip", ["netns", "exec", name] + argv)
    }

    /// The processes running inside the namespace (`ip netns pids`).
    public var processes: [pid_t] {
        guard let result = try? ProcessRunner.run("ip", ["netns", "pids", name]), result.status == 0 else { return [] }
        return result.standardOutput.split(whereSeparator: \.isWhitespace).compactMap { pid_t($0) }
    }

    /// Kills the processes still inside the namespace and deletes it. Idempotent.
    public func remove() {
        guard !removed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let own = getpid()
        for process in processes where process != own {
            kill(process, SIGKILL)
        }
        _ = try? ProcessRunner.run("ip", ["netns", "delete", name])
    }

    /// The names of all namespaces on the machine (`ip netns list`).
    public static func list() throws -> [String] {
        let result = try checked("ip", ["netns", "list"])
        return result.standardOutput.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
    }

    /// Runs a program and throws with its output if it fails.
    @discardableResult
    static func checked(_ executable: String, _ arguments: [String]) throws -> ProcessResult {
        let result = try ProcessRunner.run(executable, arguments)
        guard result.status == 0 else {
            throw TestSupportError("\(executable) \(arguments.joined(separator: " ")) exited \(result.status):\n\(result.combinedOutput)")
        }
        return result
    }
}

extension Trait where Self == ConditionTrait {
    /// Skips a test or suite unless it runs as root, which network namespaces and iptables
    /// need. CI runs as root, so there nothing is skipped.
    public static var requiresRoot: Self {
        .enabled(if: NetworkNamespace.isRoot, "needs root (network namespaces, iptables); CI runs as root")
    }
}
