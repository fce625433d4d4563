import NIOCore
import Synchronization
import Workers

/// The chunks of a streamed upstream response body, fed by the connection's channel handler and
/// read by whoever got the response (the client connection, or a handler's `fetch`).
///
/// Backpressure is read gating: once the reader falls behind (a few chunks buffered), the
/// handler stops reading from the upstream socket until the reader asks for more. The chunks can
/// be read once; a second reader gets an error, not a crash.
final class UpstreamResponseBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    typealias Failure = any Error
    typealias Producer = NIOThrowingAsyncSequenceProducer<
        ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, Demand
    >

    /// Relays the reader's demand to the channel handler, on its event loop.
    struct Demand: NIOAsyncSequenceProducerDelegate {
        let eventLoop: any EventLoop
        /// Called on the event loop when the reader wants more.
        let more: @Sendable () -> Void
        /// Called on the event loop once the reader is done: at the end, or gone before it.
        let terminated: @Sendable () -> Void

        func produceMore() {
            run(more)
        }

        func didTerminate() {
            run(terminated)
        }

        private func run(_ body: @escaping @Sendable () -> Void) {
            if eventLoop.inEventLoop { body() } else { eventLoop.execute(body) }
        }
    }

    private let producer: Mutex<Producer?>

    /// A body and the source its channel handler yields chunks to (on the event loop).
    static func make(demand: Demand) -> (UpstreamResponseBody, Producer.Source) {
        let made = Producer.makeSequence(
            elementType: ByteBuffer.self,
            backPressureStrategy: .init(lowWatermark: 2, highWatermark: 4),
            finishOnDeinit: true,
            delegate: demand
        )
        return (UpstreamResponseBody(made.sequence), made.source)
    }

    private init(_ producer: Producer) {
        self.producer = Mutex(producer)
    }

    func makeAsyncIterator() -> AsyncIterator {
        let producer = self.producer.withLock { producer in
            defer { producer = nil }
            return producer
        }
        return AsyncIterator(base: producer?.makeAsyncIterator())
    }

    /// Reads the chunks; nil base: the body was read before.
    struct AsyncIterator: AsyncIteratorProtocol {
        var base: Producer.AsyncIterator?

        mutating func next() async throws -> ByteBuffer? {
            guard let base else { throw UpstreamError("the upstream response body was already read") }
            return try await base.next()
        }
    }
}
