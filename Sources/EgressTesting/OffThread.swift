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

/// A task executor with a thread of its own, which runs the jobs given to it one after another.
/// After ``stop()`` the thread ends once it has nothing left to run; a job that still comes later
/// gets a new thread, so none is ever left waiting.
final class OwnThreadExecutor: TaskExecutor, @unchecked Sendable {
    /// The name of the threads these executors run.
    static let threadName = "offThread"

    // `condition` guards the three fields below: the unchecked `Sendable` rests on it.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var stopped = false
    private var threadRunning = false

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        defer { condition.unlock() }
        jobs.append(job)
        if threadRunning {
            condition.signal()
        } else {
            threadRunning = true
            Thread.detachNewThread { [self] in run() }
        }
    }

    /// Lets the thread end once the jobs given so far have run.
    func stop() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }

    private func run() {
        Thread.current.name = Self.threadName
        while let job = next() {
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }

    private func next() -> UnownedJob? {
        condition.lock()
        defer { condition.unlock() }
        while jobs.isEmpty && !stopped { condition.wait() }
        guard !jobs.isEmpty else {
            threadRunning = false
            return nil
        }
        return jobs.removeFirst()
    }
}
