import EgressLinux
import EgressRules
import Synchronization

/// Refuses upstream destinations that a container must not reach through the proxy: the proxy
/// dials from its own namespace, so `127.0.0.1:5432` would be the host's database.
///
/// Refused unless an allowed range contains them: loopback, link-local (with the cloud metadata
/// address 169.254.169.254), unspecified, multicast, broadcast, reserved (240.0.0.0/4) and
/// discard-only (100::/64) addresses, and every address of the proxy's own network namespace
/// (a service bound to `0.0.0.0` there, the proxy's own listeners included, is the host's).
package struct DestinationGuard: Sendable {
    private static let refusedRanges: [(network: String, reason: String)] = [
        ("127.0.0.0/8", "loopback"), ("::1/128", "loopback"),
        ("169.254.0.0/16", "link-local (cloud metadata)"), ("fe80::/10", "link-local"),
        ("0.0.0.0/8", "unspecified"), ("::/128", "unspecified"),
        ("224.0.0.0/4", "multicast"), ("ff00::/8", "multicast"), ("255.255.255.255/32", "broadcast"),
        // Reserved and discard-only: the containers' DNS placeholders (240.240.0.1, 100::1) live here.
        ("240.0.0.0/4", "reserved"), ("100::/64", "discard-only"),
    ]

    private let refused: [(network: IPNetwork, reason: String)]
    private let allowed: [IPNetwork]
    private let localAddresses = LocalAddressCache()

    /// A guard that exempts `allowed` ranges.
    package init(allowed: [IPNetwork] = []) {
        self.refused = Self.refusedRanges.compactMap { entry in IPNetwork(entry.network).map { ($0, entry.reason) } }
        self.allowed = allowed
    }

    /// Why `destination` may not be dialled, or nil if it may.
    package func refusal(for destination: IPEndpoint) -> String? {
        if allowed.contains(where: { $0.contains(destination.address) }) { return nil }
        if let range = refused.first(where: { $0.network.contains(destination.address) }) { return "\(range.reason) destination" }
        return localAddresses.contains(destination.address) ? "local address (of the proxy's host)" : nil
    }

    /// The sentence that says why `destination` may not be dialled, or nil if it may.
    package func refusalReason(for destination: IPEndpoint) -> String? {
        refusal(for: destination).map { "\(destination) is a \($0), which the proxy does not dial for a container" }
    }

    /// Why traffic that no rule intercepts may not go out to `destination`, or nil if it may:
    /// with `internet` off nothing goes out; with it on, what ``refusal(for:)`` refuses.
    package func unmatchedRefusal(for destination: IPEndpoint, internet: Bool) -> String? {
        guard internet else { return "no rule intercepts it and this container has no internet access" }
        return refusalReason(for: destination)
    }
}

/// Whether addresses belong to the proxy's network namespace, each answer kept for a few
/// seconds: asking the kernel costs a socket, a bind and a close, and forwarding asks per request.
private final class LocalAddressCache: Sendable {
    private let answers = Mutex<[IPAddress: (local: Bool, until: ContinuousClock.Instant)]>([:])
    private static let lifetime = Duration.seconds(5)
    private static let capacity = 4096

    func contains(_ address: IPAddress) -> Bool {
        let now = ContinuousClock.now
        if let known = answers.withLock({ $0[address] }), known.until > now { return known.local }
        let local = LocalAddresses.contains(address)
        answers.withLock { answers in
            if answers.count >= Self.capacity { answers.removeAll(keepingCapacity: true) }
            answers[address] = (local, now + Self.lifetime)
        }
        return local
    }
}
