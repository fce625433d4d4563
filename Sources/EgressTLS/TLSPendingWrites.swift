import NIOCore

/// The plaintext writes a ``TLSHandler`` holds until it may encrypt them, in order, and how many
/// of them, from the front, a `flush` has released.
struct TLSPendingWrites {
    /// One write and the promise it completes.
    struct Write {
        var data: ByteBuffer
        let promise: EventLoopPromise<Void>?
    }

    /// Up to this many flushed plaintext bytes in several writes go into one TLS record: an HTTP
    /// response's head, body and end are one record, not three (each record costs its header,
    /// tag and a cipher call).
    static let coalescedRecordLimit = 16 * 1024

    private var writes = CircularBuffer<Write>()
    /// How many of `writes`, from the front, a `flush` has released.
    private(set) var flushedCount = 0

    mutating func append(_ data: ByteBuffer, promise: EventLoopPromise<Void>?) {
        writes.append(Write(data: data, promise: promise))
    }

    /// A `flush`: every write so far may go out.
    mutating func flushAll() {
        flushedCount = writes.count
    }

    /// The first released write, if any.
    var firstFlushed: Write? {
        flushedCount > 0 ? writes.first : nil
    }

    /// The first released write went out whole.
    mutating func removeFirstFlushed() {
        writes.removeFirst()
        flushedCount -= 1
    }

    /// The first released write went out in part: `write` is what is left of it.
    mutating func replaceFirst(with write: Write) {
        writes[writes.startIndex] = write
    }

    /// Makes the released writes one write of their bytes (when there are several and they fit a
    /// record), whose completion completes each of their promises; returns their byte count.
    mutating func coalesceFlushed(allocator: ByteBufferAllocator) -> Int {
        let byteCount = writes.prefix(flushedCount).reduce(0) { $0 + $1.data.readableBytes }
        guard flushedCount > 1, byteCount <= Self.coalescedRecordLimit else { return byteCount }
        var combined = allocator.buffer(capacity: byteCount)
        var promise: EventLoopPromise<Void>?
        for _ in 0..<flushedCount {
            guard let write = writes.popFirst() else { break }
            combined.writeImmutableBuffer(write.data)
            Self.chain(write.promise, to: &promise)
        }
        writes.prepend(Write(data: combined, promise: promise))
        flushedCount = 1
        return byteCount
    }

    /// Takes every write out, released or not. Failing their promises is the caller's, once this
    /// access has ended: a promise's callbacks may write or close, and so come back here.
    mutating func removeAll() -> CircularBuffer<Write> {
        flushedCount = 0
        defer { writes = CircularBuffer() }
        return writes
    }

    /// Lets `next` (a later write's promise) complete with `first`, or makes it `first` if there
    /// is none yet: one promise stands for several writes that go out together.
    static func chain(_ next: EventLoopPromise<Void>?, to first: inout EventLoopPromise<Void>?) {
        guard let next else { return }
        if let first { first.futureResult.cascade(to: next) } else { first = next }
    }
}
