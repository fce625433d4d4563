@testable import EgressProxy
import NIOCore
import NIOPosix
import Testing

@Suite(.timeLimit(.minutes(1))) struct EventLoopTaskExecutorTests {
    @Test func aTaskThatPrefersTheExecutorRunsOnTheLoopAcrossSuspensions() async throws {
        let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
        let executor = EventLoopTaskExecutor(eventLoop)
        let onLoop = await Task(executorPreference: executor) { () async -> [Bool] in
            var seen = [eventLoop.inEventLoop]
            await Task.yield()
            seen.append(eventLoop.inEventLoop)
            // A resumption from the loop itself (a future completed there) stays there too.
            try? await eventLoop.scheduleTask(in: .milliseconds(1)) {}.futureResult.get()
            seen.append(eventLoop.inEventLoop)
            return seen
        }.value
        #expect(onLoop == [true, true, true])
    }

    @Test func onItsLoopsThreadTheLoopKeepsOneExecutor() async throws {
        let eventLoop = MultiThreadedEventLoopGroup.singleton.next()
        let same = try await eventLoop.submit {
            EventLoopTaskExecutor.of(eventLoop) === EventLoopTaskExecutor.of(eventLoop)
        }.get()
        #expect(same)
    }
}
