import NIOCore

/// Keeps a task that writes through a `NIOAsyncChannelOutboundWriter` from running ahead of its
/// channel's event loop.
///
/// The writer suspends only once the channel reports itself not writable, and it learns that on
/// the event loop, after it has processed the writes queued for it. A producer on another thread
/// that is faster than a busy event loop (encrypting TLS, say) can queue writes without bound
/// before that happens. Every `budget` bytes the pacer waits for the event loop to catch up
/// (its tasks run in order), so at most `budget` bytes are queued beyond the channel's own
/// water marks.
struct WritePacer {
    private let eventLoop: any EventLoop
    private let budget: Int
    private var unconfirmed = 0

    init(eventLoop: any EventLoop, budget: Int = 256 * 1024) {
        self.eventLoop = eventLoop
        self.budget = budget
    }

    /// Records `bytes` just written; waits for the event loop when the budget is spent.
    mutating func wrote(_ bytes: Int) async throws {
        unconfirmed += bytes
        guard unconfirmed >= budget else { return }
        unconfirmed = 0
        try await eventLoop.submit {}.get()
    }
}
