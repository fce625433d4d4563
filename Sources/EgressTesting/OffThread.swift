import Foundation

/// Runs blocking test work (waiting on processes, polling their output) on a thread of its own,
/// still inside the calling task.
///
/// Swift Testing runs tests on the cooperative thread pool, which has one thread per core: two on
/// these machines. A test that blocks one of them for seconds starves every async test running
/// beside it (their timers fire late and their deadlines pass). Tests that mostly wait on
/// processes wrap their body in this. The body runs in the caller's task (on an executor whose
/// thread is its alone), so task-local values stay: an expectation that fails in it is reported
/// for the test it belongs to.
public func offThread<Result: Sendable>(_ body: @escaping @Sendable () throws -> Result) async throws -> Result {
    let executor = OwnThreadExecutor()
    defer { executor.stop() }
    return try await withTaskExecutorPreference(executor) { try body() }
}

/// A task executor with a thread of its own, which runs the jobs given to it one after another
/// until ``stop()``.
final class OwnThreadExecutor: TaskExecutor, @unchecked Sendable {
    // `condition` guards `jobs` and `stopped`: the unchecked `Sendable` rests on it.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var stopped = false

    init() {
        Thread.detachNewThread { [self] in run() }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Ends the thread once the jobs given so far have run.
    func stop() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }

    private func run() {
        while let job = next() {
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }

    private func next() -> UnownedJob? {
        condition.lock()
        defer { condition.unlock() }
        while jobs.isEmpty && !stopped { condition.wait() }
        return jobs.isEmpty ? nil : jobs.removeFirst()
    }
}
