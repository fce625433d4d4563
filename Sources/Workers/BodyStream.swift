import Synchronization

/// The hand-over between a ``Body/stream(_:)`` producer and the body's reader: one chunk at a
/// time, the writer suspended until the reader takes it, so a fast producer never fills memory.
final class BodyStream: Sendable {
    private struct State: ~Copyable {
        var chunk: ByteBuffer?
        var writer: CheckedContinuation<Void, any Error>?
        var reader: CheckedContinuation<ByteBuffer?, any Error>?
        var end: Result<Void, any Error>?
        var readerGone = false
    }

    private let state = Mutex(State())

    /// Starts `produce` in a task of its own and returns the reading end. When the reader is
    /// dropped before the end, the producer's task is cancelled and its pending write throws.
    static func start(_ produce: @escaping @Sendable (BodyWriter) async throws -> Void) -> Reader {
        let stream = BodyStream()
        let task = Task {
            do {
                try await produce(BodyWriter(stream: stream))
                stream.finish(.success(()))
            } catch {
                stream.finish(.failure(error))
            }
        }
        return Reader(stream: stream, producer: task)
    }

    /// A reading end fed by whoever holds the stream (see ``Body/makeStream()``).
    static func reader(for stream: BodyStream) -> Reader {
        Reader(stream: stream, producer: nil)
    }

    func write(_ buffer: ByteBuffer) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let reader: CheckedContinuation<ByteBuffer?, any Error>? = state.withLock { state in
                if state.readerGone || state.end != nil {
                    continuation.resume(throwing: CancellationError())
                    return nil
                }
                if let reader = state.reader {
                    state.reader = nil
                    continuation.resume()
                    return reader
                }
                state.chunk = buffer
                state.writer = continuation
                return nil
            }
            reader?.resume(returning: buffer)
        }
    }

    func finish(_ end: Result<Void, any Error>) {
        let reader = state.withLock { state -> CheckedContinuation<ByteBuffer?, any Error>? in
            guard state.end == nil else { return nil }
            state.end = end
            defer { state.reader = nil }
            return state.reader
        }
        reader?.resume(with: end.map { nil })
    }

    fileprivate func next() async throws -> ByteBuffer? {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ByteBuffer?, any Error>) in
            let writer: CheckedContinuation<Void, any Error>? = state.withLock { state in
                if let chunk = state.chunk {
                    state.chunk = nil
                    continuation.resume(returning: chunk)
                    defer { state.writer = nil }
                    return state.writer
                }
                if let end = state.end {
                    continuation.resume(with: end.map { nil })
                    return nil
                }
                state.reader = continuation
                return nil
            }
            writer?.resume()
        }
    }

    func readerGone() {
        let writer = state.withLock { state -> CheckedContinuation<Void, any Error>? in
            state.readerGone = true
            state.chunk = nil
            defer { state.writer = nil }
            return state.writer
        }
        writer?.resume(throwing: CancellationError())
    }

    /// The reading end; dropping it stops the producer.
    final class Reader: Sendable {
        private let stream: BodyStream
        private let producer: Task<Void, Never>?

        fileprivate init(stream: BodyStream, producer: Task<Void, Never>?) {
            self.stream = stream
            self.producer = producer
        }

        deinit {
            stream.readerGone()
            producer?.cancel()
        }

        func next() async throws -> ByteBuffer? {
            try await stream.next()
        }
    }
}
