import Synchronization

/// Runs work with a deadline that holds even when the work ignores cancellation: a hung handler
/// cannot hold its request past the deadline (it is cancelled and left behind, not awaited).
enum Deadline {
    /// The work's result, or nil if `timeout` passed first (the work is then cancelled).
    static func run<Value: Sendable>(
        within timeout: Duration, _ work: @escaping @Sendable () async throws -> Value
    ) async throws -> Value? {
        let race = Race<Value?>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                race.begin(continuation)
                let worker = Task {
                    do {
                        race.finish(.success(try await work()))
                    } catch {
                        race.finish(.failure(error))
                    }
                }
                let timer = Task {
                    guard (try? await Task.sleep(for: timeout)) != nil else { return }
                    race.finish(.success(nil))
                }
                race.track([worker, timer])
            }
        } onCancel: {
            race.finish(.failure(CancellationError()))
        }
    }
}

/// Whichever finishes first resumes the caller; every task of the race is then cancelled.
private final class Race<Value: Sendable>: Sendable {
    private struct State: ~Copyable {
        var continuation: CheckedContinuation<Value, any Error>?
        var tasks: [Task<Void, Never>] = []
        var finished = false
    }

    private let state = Mutex(State())

    func begin(_ continuation: CheckedContinuation<Value, any Error>) {
        let finished = state.withLock { state in
            state.continuation = continuation
            return state.finished
        }
        if finished { continuation.resume(throwing: CancellationError()) }
    }

    func track(_ tasks: [Task<Void, Never>]) {
        let finished = state.withLock { state in
            state.tasks = tasks
            return state.finished
        }
        if finished { tasks.forEach { $0.cancel() } }
    }

    func finish(_ result: Result<Value, any Error>) {
        let (continuation, tasks) = state.withLock { state -> (CheckedContinuation<Value, any Error>?, [Task<Void, Never>]) in
            guard !state.finished else { return (nil, []) }
            state.finished = true
            defer { state.continuation = nil }
            return (state.continuation, state.tasks)
        }
        tasks.forEach { $0.cancel() }
        continuation?.resume(with: result)
    }
}
