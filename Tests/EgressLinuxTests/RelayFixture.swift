import EgressTesting
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
            throw TestSupportError("the relay did not report within \(timeout)s")
        }
        finished.signal()
        let reported = results.withLock { $0 }
        guard reported.count == 1, let result = reported.first else {
            throw TestSupportError("the relay reported \(reported.count) times")
        }
        return result
    }

    /// Whether the relay has reported yet.
    var hasReported: Bool {
        !results.withLock { $0.isEmpty }
    }

    /// The id of `relay`'s engine thread (its entry in `/proc/self/task`), which completions run
    /// on: a pair relayed through `relay` and ended at once says where its completion ran.
    static func engineThread(of relay: SpliceRelay) throws -> pid_t {
        let (client, clientInner) = try TestSockets.loopbackPair()
        let (upstreamInner, upstream) = try TestSockets.loopbackPair()
        defer {
            Glibc.close(client)
            Glibc.close(upstream)
        }
        let reported = Mutex<Result<pid_t, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        do {
            try relay.relay(client: clientInner, upstream: upstreamInner) { _ in
                reported.withLock { $0 = Result { try ThreadProbe.currentID() } }
                done.signal()
            }
        } catch {
            Glibc.close(clientInner)
            Glibc.close(upstreamInner)
            throw error
        }
        _ = shutdown(client, Int32(SHUT_WR))
        _ = shutdown(upstream, Int32(SHUT_WR))
        guard done.wait(timeout: .now() + 10) == .success, let result = reported.withLock({ $0 }) else {
            throw TestSupportError("a pair that ended at once did not report within 10s")
        }
        return try result.get()
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
