/// A message body: bytes that arrive in chunks (`ByteBuffer`s), read once, never required to sit
/// whole in memory.
///
/// Make one from bytes or text, from any `AsyncSequence` of `ByteBuffer`, or with
/// ``stream(_:)``, whose writer waits until the reader has taken each chunk (backpressure).
/// Iterate it with `for try await chunk in body`, or ``collect(upTo:)`` it.
public struct Body: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    public typealias Failure = any Error

    private enum Source: Sendable {
        case bytes(ByteBuffer?)
        case sequence(@Sendable () -> any ChunkIterator)
        case producer(@Sendable (BodyWriter) async throws -> Void)
        case stream(BodyStream)
    }

    private let source: Source

    /// No bytes.
    public static let empty = Body(source: .bytes(nil))

    private init(source: Source) {
        self.source = source
    }

    /// The bytes of `buffer`.
    public init(_ buffer: ByteBuffer) {
        source = .bytes(buffer.readableBytes > 0 ? buffer : nil)
    }

    /// The UTF-8 bytes of `text`.
    public init(_ text: String) {
        self.init(ByteBuffer(string: text))
    }

    /// The chunks of `sequence`, as they come.
    public init<Chunks: AsyncSequence & Sendable>(_ sequence: Chunks) where Chunks.Element == ByteBuffer {
        source = .sequence { ErasedChunkIterator(base: sequence.makeAsyncIterator()) }
    }

    /// A body written by `produce`, which starts when the body is first read. Each
    /// ``BodyWriter/write(_:)`` returns once the reader has taken the chunk; if the reader goes
    /// away (the client disconnected), the write throws and `produce` should stop.
    public static func stream(_ produce: @escaping @Sendable (BodyWriter) async throws -> Void) -> Body {
        Body(source: .producer(produce))
    }

    /// A body and the writer that feeds it, for code that produces chunks from a loop of its own
    /// (the proxy's connections). Each write returns once the reader took the chunk and throws
    /// once the reader is gone; ``BodyWriter/finish(throwing:)`` ends the body.
    package static func makeStream() -> (Body, BodyWriter) {
        let stream = BodyStream()
        return (Body(source: .stream(stream)), BodyWriter(stream: stream))
    }

    /// The bytes of a body made from bytes in memory (nil for a sequence or a stream).
    package var inMemory: ByteBuffer? {
        if case .bytes(let buffer) = source { return buffer ?? ByteBuffer() }
        return nil
    }

    /// The number of bytes when it is known without reading (bytes and text bodies), else nil.
    public var knownLength: Int? {
        if case .bytes(let buffer) = source { return buffer?.readableBytes ?? 0 }
        return nil
    }

    /// Reads the whole body into one buffer; throws ``BodyTooLargeError`` past `maxBytes`.
    public func collect(upTo maxBytes: Int) async throws -> ByteBuffer {
        var collected = ByteBuffer()
        for try await var chunk in self {
            guard collected.readableBytes + chunk.readableBytes <= maxBytes else { throw BodyTooLargeError(limit: maxBytes) }
            collected.writeBuffer(&chunk)
        }
        return collected
    }

    public func makeAsyncIterator() -> AsyncIterator {
        switch source {
        case .bytes(let buffer):
            return AsyncIterator(state: .bytes(buffer))
        case .sequence(let makeIterator):
            return AsyncIterator(state: .sequence(makeIterator()))
        case .producer(let produce):
            return AsyncIterator(state: .producer(BodyStream.start(produce)))
        case .stream(let stream):
            return AsyncIterator(state: .producer(BodyStream.reader(for: stream)))
        }
    }

    /// Reads a ``Body`` chunk by chunk.
    public struct AsyncIterator: AsyncIteratorProtocol {
        fileprivate enum State {
            case bytes(ByteBuffer?)
            case sequence(any ChunkIterator)
            case producer(BodyStream.Reader)
        }

        fileprivate var state: State

        public mutating func next() async throws -> ByteBuffer? {
            switch state {
            case .bytes(let buffer):
                state = .bytes(nil)
                return buffer
            case .sequence(var iterator):
                let chunk = try await iterator.next()
                state = .sequence(iterator)
                return chunk
            case .producer(let reader):
                return try await reader.next()
            }
        }
    }
}

/// An iterator of chunks whose concrete type the body does not expose.
protocol ChunkIterator {
    mutating func next() async throws -> ByteBuffer?
}

private struct ErasedChunkIterator<Base: AsyncIteratorProtocol>: ChunkIterator where Base.Element == ByteBuffer {
    var base: Base

    mutating func next() async throws -> ByteBuffer? {
        try await base.next()
    }
}

/// Writes the chunks of a ``Body/stream(_:)`` body.
public struct BodyWriter: Sendable {
    let stream: BodyStream

    /// Hands `buffer` to the reader; returns once it has been taken.
    public func write(_ buffer: ByteBuffer) async throws {
        try await stream.write(buffer)
    }

    /// Writes the UTF-8 bytes of `text`.
    public func write(_ text: String) async throws {
        try await write(ByteBuffer(string: text))
    }

    /// Ends a body made by ``Body/makeStream()``: normally, or with `error` for the reader.
    package func finish(throwing error: (any Error)? = nil) {
        stream.finish(error.map { .failure($0) } ?? .success(()))
    }

    /// Declares that nobody will read the rest (the exchange is over): pending and later writes
    /// throw `CancellationError`.
    package func abandon() {
        stream.readerGone()
    }
}

/// A body was larger than the limit given to ``Body/collect(upTo:)``.
public struct BodyTooLargeError: Error, CustomStringConvertible {
    /// The limit, in bytes.
    public let limit: Int

    public var description: String { "body larger than \(limit) bytes" }
}
