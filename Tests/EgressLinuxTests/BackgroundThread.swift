import EgressTesting
import Foundation
import Synchronization

/// Work on a thread of its own: blocking socket I/O must not occupy the few threads of Swift's
/// concurrency pool, on which the tests themselves run.
final class BackgroundThread<Value: Sendable>: Sendable {
    private let outcome = Mutex<Result<Value, any Error>?>(nil)
    private let done = DispatchSemaphore(value: 0)

    /// Starts `work` now.
    init(_ work: @escaping @Sendable () throws -> Value) {
        let thread = Thread { [self] in
            let result = Result(catching: work)
            outcome.withLock { $0 = result }
            done.signal()
        }
        thread.start()
    }

    /// The work's result, waiting at most `timeout` seconds for it.
    func value(timeout: TimeInterval = 60) throws -> Value {
        guard done.wait(timeout: .now() + timeout) == .success else {
            throw TestSupportError("background work did not finish within \(timeout)s")
        }
        done.signal()
        guard let result = outcome.withLock({ $0 }) else { throw TestSupportError("background work left no result") }
        return try result.get()
    }
}

