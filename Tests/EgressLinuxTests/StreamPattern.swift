import EgressTesting
import EgressLinux
import Glibc

/// A long, deterministic byte stream for relay tests: byte `i` is `pattern[i % pattern.count]`,
/// where the pattern is pseudo-random and its length a prime, so a lost, repeated or reordered
/// chunk anywhere shows up as a mismatch. Checking is a `memcmp` against the expected bytes, fast
/// even in debug builds.
struct StreamPattern: Sendable {
    let pattern: [UInt8]

    /// A pattern of `length` bytes from `seed` (xorshift64).
    init(seed: UInt64, length: Int = 1_048_573) {
        var state = seed | 1
        var bytes = [UInt8](repeating: 0, count: length)
        for index in bytes.indices {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            bytes[index] = UInt8(truncatingIfNeeded: state)
        }
        pattern = bytes
    }

    /// Writes the first `count` bytes of the stream to `fd`, then shuts down writing.
    func send(_ count: Int, to fd: CInt, chunk: Int = 200_000) throws {
        var offset = 0
        try pattern.withUnsafeBytes { bytes in
            while offset < count {
                let start = offset % bytes.count
                let length = min(chunk, count - offset, bytes.count - start)
                try TestSockets.write(fd, UnsafeRawBufferPointer(rebasing: bytes[start..<start + length]))
                offset += length
            }
        }
        guard shutdown(fd, Int32(SHUT_WR)) == 0 else { throw TestSockets.failure("shutdown") }
    }

    /// Reads `fd` to end of stream, checking every byte; returns how many came.
    func receive(from fd: CInt) throws -> Int {
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        var received = 0
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            guard count >= 0 else { throw TestSockets.failure("recv") }
            if count == 0 { return received }
            try check(buffer[..<count], at: received)
            received += count
        }
    }

    /// Compares `chunk` with the stream's bytes at `offset`.
    private func check(_ chunk: ArraySlice<UInt8>, at offset: Int) throws {
        var compared = 0
        while compared < chunk.count {
            let start = (offset + compared) % pattern.count
            let length = min(chunk.count - compared, pattern.count - start)
            let same = chunk.withUnsafeBytes { received in
                pattern.withUnsafeBytes { expected in
                    guard let received = received.baseAddress, let expected = expected.baseAddress else { return false }
                    return memcmp(received + compared, expected + start, length) == 0
                }
            }
            guard same else { throw TestSupportError("stream differs in the \(length) bytes at offset \(offset + compared)") }
            compared += length
        }
    }
}
