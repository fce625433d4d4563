import EgressLinux

/// Runs blocking test work (waiting on processes, polling their output) on a thread of its own
/// (``EgressLinux/onOwnThread(_:)``).
///
/// Swift Testing runs tests on the cooperative thread pool, which has one thread per core: two on
/// these machines. A test that blocks one of them for seconds starves every async test running
/// beside it (their timers fire late and their deadlines pass). Tests that mostly wait on
/// processes wrap their body in this.
public func offThread<Result: Sendable>(_ body: @escaping @Sendable () throws -> Result) async throws -> Result {
    try await onOwnThread(body)
}
