import EgressLinux
import Foundation
import Glibc
import Synchronization

/// Two loopback connections joined by a ``SpliceRelay``: the test holds the outer ends, as the
/// container (``client``) and the origin (``upstream``) would.
final class RelayFixture: Sendable {
    /// The container's end.
    let client: CInt
    /// The origin's end.
    let upstream: CInt

    private let results = Mutex<[RelayResult]>([])
    private let finished = DispatchSemaphore(value: 0)
    private let open = Mutex<Set<CInt>>([])

    /// Connects, lets `beforeRelay` use the client end (to have bytes waiting, say), then hands
    /// the inner ends to `relay`.
    init(
        relay: SpliceRelay,
        initialUpstreamBytes: [UInt8] = [],
        beforeRelay: (_ client: CInt) throws -> Void = { _ in }
    ) throws {
        let (client, clientInner) = try TestSockets.loopbackPair()
        let (upstreamInner, upstream) = try TestSockets.loopbackPair()
        self.client = client
        self.upstream = upstream
        open.withLock { $0 = [client, upstream] }
        do {
            try beforeRelay(client)
            try relay.relay(client: clientInner, upstream: upstreamInner, initialUpstreamBytes: initialUpstreamBytes) {
                [self] result in
                results.withLock { $0.append(result) }
                finished.signal()
            }
        } catch {
            Glibc.close(clientInner)
            Glibc.close(upstreamInner)
            throw error
        }
    }

    deinit {
        for fd in open.withLock({ $0 }) {
            Glibc.close(fd)
        }
    }

    /// The relay's report, waiting at most `timeout` seconds for it.
    func result(timeout: TimeInterval = 30) throws -> RelayResult {
        guard finished.wait(timeout: .now() + timeout) == .success else {
            throw TestFailure("the relay did not report within \(timeout)s")
        }
        finished.signal()
        let reported = results.withLock { $0 }
        guard reported.count == 1, let result = reported.first else {
            throw TestFailure("the relay reported \(reported.count) times")
        }
        return result
    }

    /// Whether the relay has reported yet.
    var hasReported: Bool {
        !results.withLock { $0.isEmpty }
    }

    /// Closes one outer end, with a reset if `reset`.
    func close(_ fd: CInt, reset: Bool) {
        guard open.withLock({ $0.remove(fd) }) != nil else { return }
        if reset {
            TestSockets.closeWithReset(fd)
        } else {
            Glibc.close(fd)
        }
    }
}
