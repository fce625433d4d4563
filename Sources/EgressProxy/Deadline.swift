import NIOCore
import NIOPosix
import Synchronization

/// Runs work with a deadline that holds even when the work ignores cancellation: a hung handler
/// cannot hold its request past the deadline (it is cancelled and left behind, not awaited).
enum Deadline {
    /// The work's result, or nil if `timeout` passed first (the work is then cancelled). The
    /// work runs in a task that prefers `executor` (nil: Swift's global executor); the timeout
    /// counts from the moment it starts, so a busy event loop that starts it late does not eat
    /// into its time. The timer is a callback scheduled on `eventLoop`, cheaper than a sleeping
    /// Swift task per call.
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
                    race.arm(on: eventLoop, after: TimeAmount(timeout))
                    do {
                        race.finish(.success(try await work()))
                    } catch {
                        race.finish(.failure(error))
                    }
                }
                race.track(worker: worker)
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

    func track(worker: Task<Void, Never>) {
        let finished = state.withLock { state in
            state.worker = worker
            return state.finished
        }
        if finished { worker.cancel() }
    }

    /// Starts the timer (unless the race is already over).
    func arm(on eventLoop: any EventLoop, after delay: TimeAmount) {
        guard !state.withLock({ $0.finished }) else { return }
        let timer: NIOScheduledCallback
        do {
            timer = try eventLoop.scheduleCallback(in: delay, handler: self)
        } catch {
            // The event loop is shutting down: no deadline can be kept.
            return finish(.failure(error))
        }
        let finished = state.withLock { state in
            state.timer = timer
            return state.finished
        }
        if finished { timer.cancel() }
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
