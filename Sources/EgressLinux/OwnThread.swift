import Foundation

/// Runs blocking work (waiting for a process, cloning, running tools, system calls that wait) on
/// a thread of its own, never on Swift's cooperative pool (one thread per core) or an event loop.
public func onOwnThread<Result: Sendable>(_ body: @escaping @Sendable () throws -> Result) async throws -> Result {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            continuation.resume(with: Swift.Result { try body() })
        }
    }
}
