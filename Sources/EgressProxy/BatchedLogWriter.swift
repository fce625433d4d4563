#if canImport(Glibc)
import Glibc
#endif
import NIOPosix

/// Writes log lines to a file descriptor in batches. A line logged on an event loop thread of a
/// group that reports its ticks here (``processedTick(info:)``; ``ProxySetup`` makes the proxy's
/// groups so) waits in that thread's buffer until the loop has handled the events at hand: the
/// lines of one tick go out in one `write(2)`. A line logged on any other thread is written at
/// once. Under load a loop serves many requests per tick, so a decision log costs a write per tick
/// instead of one per request, and lines from one thread keep their order.
///
/// The price: a crash loses the lines of the tick in progress (a thread that ends writes what it
/// holds). A tick that logs more than ``flushThreshold`` bytes writes them as it goes.
package final class BatchedLogWriter: NIOEventLoopMetricsDelegate, Sendable {
    /// Standard error, where `egressd` logs its decisions.
    package static let standardError = BatchedLogWriter(fileDescriptor: STDERR_FILENO)

    /// Bytes a thread may hold before it writes them, tick or not.
    static let flushThreshold = 64 * 1024

    private let fileDescriptor: Int32
    private let buffers = ThreadSpecificVariable<ThreadBuffer>()

    /// A writer to `fileDescriptor`, which it does not own.
    package init(fileDescriptor: Int32) {
        self.fileDescriptor = fileDescriptor
    }

    /// Writes one line: `append` adds its bytes, newline included, to the calling thread's buffer.
    package func write(_ append: (inout [UInt8]) -> Void) {
        let buffer = currentBuffer()
        append(&buffer.bytes)
        if !buffer.flushedByTicks || buffer.bytes.count >= Self.flushThreshold { buffer.flush() }
    }

    /// The calling event loop finished a tick: what its thread logged goes out now, and from now
    /// on its lines wait for the end of their tick.
    package func processedTick(info: NIOEventLoopTickInfo) {
        tickEnded()
    }

    /// The calling thread ended a tick of its event loop.
    func tickEnded() {
        let buffer = currentBuffer()
        buffer.flushedByTicks = true
        if !buffer.bytes.isEmpty { buffer.flush() }
    }

    private func currentBuffer() -> ThreadBuffer {
        if let buffer = buffers.currentValue { return buffer }
        let buffer = ThreadBuffer(fileDescriptor: fileDescriptor)
        buffers.currentValue = buffer
        return buffer
    }
}

/// One thread's pending lines. Only the thread it belongs to reaches it (through a thread-specific
/// variable), which is what makes the unchecked `Sendable` sound; the thread's end releases it, and
/// with it writes what is left.
private final class ThreadBuffer: @unchecked Sendable {
    let fileDescriptor: Int32
    var bytes: [UInt8] = []
    /// The thread runs an event loop that reports its ticks: lines wait for the tick's end.
    var flushedByTicks = false

    init(fileDescriptor: Int32) {
        self.fileDescriptor = fileDescriptor
        bytes.reserveCapacity(4096)
    }

    deinit {
        flush()
    }

    /// Writes the pending bytes, all of them: a short write goes on, an interrupted one again, a
    /// full non-blocking descriptor is waited for. On any other error the lines are dropped (there
    /// is nowhere left to say so).
    func flush() {
        bytes.withUnsafeBytes { pending in
            var offset = 0
            while offset < pending.count, let base = pending.baseAddress {
                let written = Glibc.write(fileDescriptor, base + offset, pending.count - offset)
                if written >= 0 {
                    offset += written
                } else if errno == EAGAIN {
                    var ready = pollfd(fd: fileDescriptor, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&ready, 1, -1)
                } else if errno != EINTR {
                    return
                }
            }
        }
        bytes.removeAll(keepingCapacity: bytes.capacity <= BatchedLogWriter.flushThreshold * 2)
    }
}
