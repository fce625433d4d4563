import NIOCore
import NIOPosix
import Synchronization

/// Runs work with a deadline that holds even when the work ignores cancellation: a hung handler
/// cannot hold its request past the deadline (it is cancelled and left behind, not awaited).
enum Deadline {
    /// The work's result, or nil if `timeout` passed first (the work is then cancelled). The
    /// timer is a task scheduled on `eventLoop`, cheaper than a sleeping Swift task per call.
    static func run<Value: Sendable>(
        within timeout: Duration,
        on eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next(),
        _ work: @escaping @Sendable () async throws -> Value
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
                let timer = eventLoop.scheduleTask(in: TimeAmount(timeout)) {
                    race.finish(.success(nil))
                }
                race.track(worker: worker, timer: timer)
            }
        } onCancel: {
            race.finish(.failure(CancellationError()))
        }
    }
}

/// Whichever finishes first resumes the caller; the work is then cancelled and the timer stopped.
private final class Race<Value: Sendable>: Sendable {
    private struct State: ~Copyable {
        var continuation: CheckedContinuation<Value, any Error>?
        var worker: Task<Void, Never>?
        var timer: Scheduled<Void>?
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

    func track(worker: Task<Void, Never>, timer: Scheduled<Void>) {
        let finished = state.withLock { state in
            state.worker = worker
            state.timer = timer
            return state.finished
        }
        if finished {
            worker.cancel()
            timer.cancel()
        }
    }

    func finish(_ result: Result<Value, any Error>) {
        let (continuation, worker, timer) = state.withLock {
            state -> (CheckedContinuation<Value, any Error>?, Task<Void, Never>?, Scheduled<Void>?) in
            guard !state.finished else { return (nil, nil, nil) }
            state.finished = true
            defer { state.continuation = nil }
            return (state.continuation, state.worker, state.timer)
        }
        worker?.cancel()
        timer?.cancel()
        continuation?.resume(with: result)
    }
}
