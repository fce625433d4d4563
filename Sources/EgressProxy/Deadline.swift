import NIOCore
import NIOPosix
import Synchronization

/// Runs work with a deadline that holds even when the work ignores cancellation: a hung handler
/// cannot hold its request past the deadline (it is cancelled and left behind, not awaited).
enum Deadline {
    /// The work's result, or nil if `timeout` passed first (the work is then cancelled). The
    /// timer is a callback scheduled on `eventLoop`, cheaper than a sleeping Swift task per call;
    /// the work runs in a task that prefers `executor` (nil: Swift's global executor).
    static func run<Value: Sendable>(
        within timeout: Duration,
        on eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next(),
        executor: (any TaskExecutor)? = nil,
        _ work: @escaping @Sendable () async throws -> Value
    ) async throws -> Value? {
        let race = Race<Value>()
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { continuation in
                race.begin(continuation)
                let worker = Task(executorPreference: executor) {
                    do {
                        race.finish(.success(try await work()))
                    } catch {
                        race.finish(.failure(error))
                    }
                }
                do {
                    race.track(worker: worker, timer: try eventLoop.scheduleCallback(in: TimeAmount(timeout), handler: race))
                } catch {
                    // The event loop is shutting down: no deadline can be kept.
                    race.finish(.failure(error))
                }
            }
        } onCancel: {
            race.finish(.failure(CancellationError()))
        }
    }
}

/// Whichever finishes first resumes the caller (exactly once); the work is then cancelled and the
/// timer stopped. It is the timer's callback too: the deadline passing finishes it with nil.
private final class Race<Value: Sendable>: NIOScheduledCallbackHandler, Sendable {
    private struct State: ~Copyable {
        var continuation: UnsafeContinuation<Value?, any Error>?
        var worker: Task<Void, Never>?
        var timer: NIOScheduledCallback?
        var finished = false
    }

    private let state = Mutex(State())

    func handleScheduledCallback(eventLoop: some EventLoop) {
        finish(.success(nil))
    }

    func begin(_ continuation: UnsafeContinuation<Value?, any Error>) {
        let finished = state.withLock { state in
            state.continuation = continuation
            return state.finished
        }
        if finished { continuation.resume(throwing: CancellationError()) }
    }

    func track(worker: Task<Void, Never>, timer: NIOScheduledCallback) {
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

    func finish(_ result: Result<Value?, any Error>) {
        let (continuation, worker, timer) = state.withLock {
            state -> (UnsafeContinuation<Value?, any Error>?, Task<Void, Never>?, NIOScheduledCallback?) in
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
