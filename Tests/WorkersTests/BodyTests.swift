import Synchronization
import Testing
import Workers

@Suite struct BodyTests {
    @Test func bytesAndTextBodiesHaveAKnownLength() async throws {
        #expect(Body.empty.knownLength == 0)
        #expect(Body("hello").knownLength == 5)
        #expect(String(buffer: try await Body("hello").collect(upTo: 5)) == "hello")
        #expect(try await Body.empty.collect(upTo: 0).readableBytes == 0)
    }

    @Test func collectRefusesMoreThanTheLimit() async throws {
        let error = await #expect(throws: BodyTooLargeError.self) { try await Body("hello").collect(upTo: 4) }
        #expect(error?.limit == 4)
    }

    @Test func sequenceBodiesPassChunksThrough() async throws {
        let (chunks, continuation) = AsyncStream<ByteBuffer>.makeStream()
        for part in ["a", "bc", "def"] { continuation.yield(ByteBuffer(string: part)) }
        continuation.finish()
        let body = Body(chunks)
        #expect(body.knownLength == nil)
        var seen: [String] = []
        for try await chunk in body { seen.append(String(buffer: chunk)) }
        #expect(seen == ["a", "bc", "def"])
    }

    @Test func streamWriterWaitsForTheReader() async throws {
        let written = Atomic<Int>(0)
        let body = Body.stream { writer in
            for index in 0..<100 {
                try await writer.write("\(index),")
                written.add(1, ordering: .relaxed)
            }
        }
        var read = 0
        for try await _ in body {
            read += 1
            // The writer is never more than the chunk in hand ahead of the reader.
            #expect(written.load(ordering: .relaxed) <= read)
        }
        #expect(read == 100)
        #expect(written.load(ordering: .relaxed) == 100)
    }

    @Test func largeStreamIsReadInChunksNotAllAtOnce() async throws {
        let chunk = ByteBuffer(repeating: 0x61, count: 64 * 1024)
        let body = Body.stream { writer in
            for _ in 0..<(64 * 1024 * 1024 / chunk.readableBytes) { try await writer.write(chunk) }
        }
        var total = 0, largest = 0
        for try await part in body {
            total += part.readableBytes
            largest = max(largest, part.readableBytes)
        }
        #expect(total == 64 * 1024 * 1024)
        #expect(largest == chunk.readableBytes)
    }

    @Test func producerErrorsReachTheReader() async throws {
        struct Broken: Error {}
        let body = Body.stream { writer in
            try await writer.write("partial")
            throw Broken()
        }
        var iterator = body.makeAsyncIterator()
        #expect(try await iterator.next().map { String(buffer: $0) } == "partial")
        await #expect(throws: Broken.self) { try await iterator.next() }
    }

    @Test func droppingTheReaderStopsTheProducer() async throws {
        let outcome = Mutex<String?>(nil)
        let (done, finished) = AsyncStream<Void>.makeStream()
        do {
            let body = Body.stream { writer in
                defer { finished.yield(()) }
                do {
                    while true { try await writer.write("more") }
                } catch {
                    outcome.withLock { $0 = "\(type(of: error))" }
                    throw error
                }
            }
            var iterator = body.makeAsyncIterator()
            _ = try await iterator.next()
        }
        for await _ in done { break }
        #expect(outcome.withLock { $0 } == "CancellationError")
    }
}
