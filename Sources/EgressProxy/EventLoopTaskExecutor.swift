import NIOCore
import NIOPosix

/// A Swift task executor that runs its jobs on one NIO event loop's thread.
///
/// A connection's tasks (its exchange loop, its handler calls, its upstream connection) prefer
/// the executor of the event loop that serves its channel: a request then goes from the socket to
/// the handler and back without a thread switch between Swift's cooperative pool and the event
/// loop, and a resumption from a channel handler is a queued job on the same thread instead of a
/// wake-up of another. The price is the usual one of event-loop code: a handler that blocks its
/// thread (synchronous I/O, long computation) stalls the other connections of that loop.
package final class EventLoopTaskExecutor: TaskExecutor {
    /// The event loop whose thread runs the jobs.
    package let eventLoop: any EventLoop

    package init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    package func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { [self] in
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }

    /// The executor of `eventLoop`: on the loop's own thread the one that thread keeps (so that
    /// the tasks of one loop share an executor and never hop between two of the same thread),
    /// elsewhere a new one.
    package static func of(_ eventLoop: any EventLoop) -> EventLoopTaskExecutor {
        guard eventLoop.inEventLoop else { return EventLoopTaskExecutor(eventLoop) }
        if let kept = perThread.currentValue, kept.eventLoop === eventLoop { return kept }
        let executor = EventLoopTaskExecutor(eventLoop)
        perThread.currentValue = executor
        return executor
    }

    private static let perThread = ThreadSpecificVariable<EventLoopTaskExecutor>()
}
