@testable import EgressProxy
import EgressTesting
import Testing

private struct WorkFailed: Error, Equatable {
    let code: Int
}

@Suite(.timeLimit(.minutes(1))) struct DeadlineTests {
    @Test func fastWorkReturnsItsValue() async throws {
        let value = try await Deadline.run(within: .seconds(30)) { 6 * 7 }
        #expect(value == 42)
    }

    @Test func workThatSuspendsAndFinishesInTimeReturnsItsValue() async throws {
        let value = try await Deadline.run(within: .seconds(30)) {
            await Task.yield()
            return "done"
        }
        #expect(value == "done")
    }

    @Test func workThatReturnsNilIsNotATimeout() async throws {
        let value: Int?? = try await Deadline.run(within: .seconds(30)) { Int?.none }
        #expect(value == .some(.none))
    }

    @Test func workThatThrowsGivesItsError() async throws {
        await #expect(throws: WorkFailed(code: 7)) {
            _ = try await Deadline.run(within: .seconds(30)) { () async throws -> Int in throw WorkFailed(code: 7) }
        }
    }

    @Test func hungWorkThatIgnoresCancellationGivesNilPromptly() async throws {
        let gate = EmbeddedSupport.Gate()
        defer { gate.open() }
        let started = ContinuousClock.now
        let value = try await within(.seconds(10), "the deadline") {
            try await Deadline.run(within: .milliseconds(100)) { () async -> Int in
                await gate.wait()  // ignores cancellation: only the test ends it
                return 1
            }
        }
        let elapsed = ContinuousClock.now - started
        #expect(value == nil)
        #expect(elapsed >= .milliseconds(100), "not before the deadline: \(elapsed)")
        try await gate.entry()
        #expect(gate.entered == 1, "the work started once")
    }

    @Test func workIsCancelledWhenTheDeadlinePasses() async throws {
        let cancelled = EmbeddedSupport.Gate()
        let value = try await Deadline.run(within: .milliseconds(50)) { () async -> Int in
            // Cooperative work: wakes when cancelled and says so.
            do { try await Task.sleep(for: .seconds(60)) } catch { cancelled.open() }
            return 1
        }
        #expect(value == nil)
        try await within(.seconds(10), "the work to see its cancellation") { await cancelled.wait() }
    }

    @Test func cancellingTheCallerThrowsCancellationErrorPromptly() async throws {
        let gate = EmbeddedSupport.Gate()
        defer { gate.open() }
        let started = EmbeddedSupport.Gate()
        let caller = Task {
            try await Deadline.run(within: .seconds(60)) { () async -> Int in
                started.open()
                await gate.wait()
                return 1
            }
        }
        // Cancel once the work is under way.
        try await within(.seconds(10), "the work to start") { await started.wait() }
        caller.cancel()
        let result = try await within(.seconds(10), "the cancelled caller") { await caller.result }
        #expect(throws: CancellationError.self) { try result.get() }
    }

    @Test func anAlreadyCancelledCallerThrowsCancellationError() async throws {
        let gate = EmbeddedSupport.Gate()
        defer { gate.open() }
        let caller = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await Deadline.run(within: .seconds(60)) { () async -> Int in
                await gate.wait()
                return 1
            }
        }
        let result = try await within(.seconds(10), "the cancelled caller") { await caller.result }
        #expect(throws: CancellationError.self) { try result.get() }
    }
}
