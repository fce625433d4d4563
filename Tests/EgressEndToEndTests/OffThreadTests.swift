import EgressTesting
import Foundation
import Testing

/// `offThread`, which every test here wraps its blocking body in: the body runs on a thread that is
/// not the caller's, inside the caller's task, so what it records belongs to the right test.
@Suite struct OffThreadTests {
    @Test func theBodyRunsOnAThreadOfItsOwnInTheCallersTask() async throws {
        let (threadName, testName) = try await offThread { (Thread.current.name, Test.current?.name) }
        #expect(threadName == "offThread", "not a thread of the cooperative pool")
        #expect(testName == "theBodyRunsOnAThreadOfItsOwnInTheCallersTask()", "an expectation in the body is this test's")
    }

    @Test func whatTheBodyThrowsReachesTheCaller() async throws {
        struct Refusal: Error {}
        await #expect(throws: Refusal.self) { try await offThread { throw Refusal() } }
    }
}
