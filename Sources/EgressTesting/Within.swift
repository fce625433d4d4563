import Synchronization

/// `work`'s result, or ``TimedOut`` once `limit` passes: a watchdog so that a broken
/// implementation fails the test instead of hanging it. `work` is left behind (cancelled, not
/// awaited) on a timeout, so work that ignores cancellation, such as `EventLoopFuture.get()`,
/// cannot hold the test either (a task group would wait for it).
public func within<Value: Sendable>(
    _ limit: Duration = .seconds(20), _ what: String, _ work: @escaping @Sendable () async throws -> Value
) async throws -> Value {
    let slot = Mutex<CheckedContinuation<Value, any Error>?>(nil)
    let finish: @Sendable (Result<Value, any Error>) -> Void = { result in
        slot.withLock { stored in
            let continuation = stored
            stored = nil
            return continuation
        }?.resume(with: result)
    }
    return try await withCheckedThrowingContinuation { continuation in
        slot.withLock { $0 = continuation }
        let worker = Task {
            do { finish(.success(try await work())) } catch { finish(.failure(error)) }
        }
        Task {
            try? await Task.sleep(for: limit)
            worker.cancel()
            finish(.failure(TimedOut(what: what)))
        }
    }
}

/// What ``within(_:_:_:)`` throws when the time is up.
public struct TimedOut: Error, CustomStringConvertible {
    /// What was waited for.
    public let what: String

    public var description: String { "timed out waiting for \(what)" }
}
