import EgressLinux
import EgressRules
import Synchronization
import Workers

/// The rules of one proxy (or one container): which handler takes which traffic, and what
/// unmatched traffic may do (go out at all, and to which destinations). Changes apply live;
/// readers take a consistent snapshot.
package final class InterceptionRules: Sendable {
    /// One consistent view of the rules, taken per connection decision or per request.
    package struct Snapshot: Sendable {
        /// Rules for plain HTTP (default port 80), matched per request.
        package var http = RuleTable<Worker>(defaultPort: 80)
        /// Rules for HTTPS (default port 443): a match intercepts the TLS connection.
        package var https = RuleTable<Worker>(defaultPort: 443)
        /// Whether unmatched traffic goes out to its original destination.
        package var internet: Bool
        /// The destinations unmatched traffic (and `forward: origin`) may not be sent to.
        package var destinationGuard: DestinationGuard

        /// No rules yet.
        package init(internet: Bool, destinationGuard: DestinationGuard = DestinationGuard()) {
            self.internet = internet
            self.destinationGuard = destinationGuard
        }
    }

    /// One consistent set of rules, never changed once made (a change makes a new one), read in
    /// place: taking it costs one reference, where copying a ``Snapshot`` out of the lock
    /// retained every array of both tables (2% of an intercepted request).
    package final class Current: Sendable {
        package let snapshot: Snapshot

        init(_ snapshot: Snapshot) {
            self.snapshot = snapshot
        }

        /// The first rule that matches a request or connection, from the HTTPS rules (`https`)
        /// or the HTTP rules. A method of its own, not inlined: here the table is read where it
        /// is, where a caller reaching through `snapshot` copied it (a retain and a release of
        /// each of its arrays, which every connection shares, per request).
        @inline(never)
        package func match(https: Bool, hostname: String?, destination: IPEndpoint) -> RuleMatch<Worker>? {
            https
                ? snapshot.https.match(hostname: hostname, address: destination.address, port: destination.port)
                : snapshot.http.match(hostname: hostname, address: destination.address, port: destination.port)
        }

        /// Why unmatched traffic to `destination` may not go out, or nil if it may (read in
        /// place, as ``match(https:hostname:destination:)``).
        @inline(never)
        package func unmatchedRefusal(for destination: IPEndpoint) -> String? {
            snapshot.destinationGuard.unmatchedRefusal(for: destination, internet: snapshot.internet)
        }
    }

    private let state: Mutex<Current>
    /// Stands in the lock while a change is made, so that the tables being changed are not
    /// shared with the current rules (and are changed in place unless a reader still holds them).
    private static let changing = Current(Snapshot(internet: false))

    /// Rules with nothing intercepted; `internet` and `destinationGuard` decide what happens to
    /// unmatched traffic.
    package init(internet: Bool, destinationGuard: DestinationGuard = DestinationGuard()) {
        state = Mutex(Current(Snapshot(internet: internet, destinationGuard: destinationGuard)))
    }

    /// The rules as they are now, to read in place (the request path).
    package var current: Current {
        state.withLock { $0 }
    }

    /// The rules as they are now, as a value to change and ``replace(with:)`` them with.
    package var snapshot: Snapshot {
        current.snapshot
    }

    /// Routes plain HTTP requests to `target` through `worker` (replacing the handler of an
    /// equal target in place). Throws, registering nothing, if `target` is not a valid target.
    package func interceptOutboundHttp(_ target: String, _ worker: Worker) throws(RuleTargetError) {
        let parsed = try RuleTarget(parsing: target)
        change { $0.http.register(parsed, worker) }
    }

    /// Routes every plain HTTP request on port 80 through `worker`: `0.0.0.0/0` and `::/0`.
    package func interceptAllOutboundHttp(_ worker: Worker) {
        let everywhere = ["0.0.0.0/0", "::/0"].compactMap { try? RuleTarget(parsing: $0) }
        change { snapshot in
            for target in everywhere {
                snapshot.http.register(target, worker)
            }
        }
    }

    /// Intercepts TLS to `target` and routes its requests through `worker`.
    package func interceptOutboundHttps(_ target: String, _ worker: Worker) throws(RuleTargetError) {
        let parsed = try RuleTarget(parsing: target)
        change { $0.https.register(parsed, worker) }
    }

    /// Replaces every rule, the internet setting and the guard at once (a configuration reload).
    package func replace(with snapshot: Snapshot) {
        state.withLock { $0 = Current(snapshot) }
    }

    /// Turns outbound access for unmatched traffic on or off.
    package func setInternet(_ enabled: Bool) {
        change { $0.internet = enabled }
    }

    /// Makes the next rules from the current ones.
    private func change(_ body: (inout Snapshot) -> Void) {
        state.withLock { current in
            var snapshot = current.snapshot
            current = Self.changing
            body(&snapshot)
            current = Current(snapshot)
        }
    }
}
