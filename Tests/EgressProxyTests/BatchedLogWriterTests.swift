import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import EgressProxy

/// ``BatchedLogWriter`` and ``DecisionLogHandler`` writing into a pipe the test reads.
@Suite struct BatchedLogWriterTests {
    /// A pipe whose write end a writer uses; the read end is non-blocking, so the test can see
    /// that nothing was written yet.
    private final class CapturedOutput: Sendable {
        let readEnd: Int32
        let writeEnd: Int32
        let writer: BatchedLogWriter

        init() throws {
            var ends: [Int32] = [0, 0]
            guard pipe(&ends) == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
            (readEnd, writeEnd) = (ends[0], ends[1])
            for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
            _ = fcntl(readEnd, F_SETFL, O_NONBLOCK)
            _ = fcntl(writeEnd, 1031 /* F_SETPIPE_SZ */, 1 << 20)   // room for a whole tick's lines
            writer = BatchedLogWriter(fileDescriptor: writeEnd)
        }

        deinit {
            close(readEnd)
            close(writeEnd)
        }

        /// What is in the pipe now (empty if nothing).
        func available() -> String {
            var text: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = read(readEnd, &chunk, chunk.count)
                guard count > 0 else { break }
                text += chunk[0..<count]
            }
            return String(decoding: text, as: UTF8.self)
        }

        /// Waits up to 10 s for the pipe to hold `count` bytes in all; returns what it read. It
        /// looks once more when the time is up: a sleep that a loaded machine stretched past the
        /// deadline must not end the wait unread.
        func awaitBytes(_ count: Int) async -> String {
            var text = ""
            let deadline = ContinuousClock.now + .seconds(10)
            while true {
                text += available()
                if text.utf8.count >= count || ContinuousClock.now >= deadline { return text }
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
    }

    private static func line(_ text: String) -> (inout [UInt8]) -> Void {
        { $0.append(contentsOf: (text + "\n").utf8) }
    }

    @Test func aLineFromAThreadWithoutTicksIsWrittenAtOnce() throws {
        let output = try CapturedOutput()
        output.writer.write(Self.line("one"))
        #expect(output.available() == "one\n")
    }

    @Test func linesOfOneTickGoOutTogetherAtItsEnd() async throws {
        let output = try CapturedOutput()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1, metricsDelegate: output.writer)
        let loop = group.next()
        // Marks the loop's thread as one whose lines wait for their tick's end, as a first tick's
        // end does (waiting for a first tick would not do: the next task can join that tick).
        try await loop.submit { output.writer.tickEnded() }.get()
        let seenDuringTick = try await loop.submit { () -> String in
            output.writer.write(Self.line("a"))
            output.writer.write(Self.line("b"))
            return output.available()
        }.get()
        #expect(seenDuringTick == "")
        #expect(await output.awaitBytes(4) == "a\nb\n")
        try await group.shutdownGracefully()
    }

    @Test func aTickThatLogsMoreThanTheThresholdWritesAsItGoes() async throws {
        let output = try CapturedOutput()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1, metricsDelegate: output.writer)
        let loop = group.next()
        try await loop.submit { output.writer.tickEnded() }.get()
        let long = String(repeating: "x", count: 1023)
        let lines = BatchedLogWriter.flushThreshold / 1024 + 1
        let seenDuringTick = try await loop.submit { () -> Int in
            for _ in 0..<lines { output.writer.write(Self.line(long)) }
            return output.available().utf8.count
        }.get()
        // The threshold's worth went out during the tick; the last line waited for its end.
        #expect(seenDuringTick == BatchedLogWriter.flushThreshold)
        #expect(await output.awaitBytes(1024).utf8.count == 1024)
        try await group.shutdownGracefully()
    }

    @Test func whatAThreadHoldsWhenItEndsIsWritten() async throws {
        let output = try CapturedOutput()
        let seenBeforeTheEnd = Mutex<String?>(nil)
        let thread = Thread {
            output.writer.tickEnded()
            output.writer.write(Self.line("last"))
            seenBeforeTheEnd.withLock { $0 = output.available() }
        }
        thread.start()
        #expect(await output.awaitBytes(5) == "last\n")
        #expect(seenBeforeTheEnd.withLock { $0 } == "")
    }

    @Test func theDecisionLogWritesStreamLogHandlersFormat() throws {
        let output = try CapturedOutput()
        var logger = Logger(label: "egress") { DecisionLogHandler(label: $0, writer: output.writer) }
        logger[metadataKey: "src"] = "10.0.0.2:5000"
        logger[metadataKey: "conn"] = "7"
        logger.info("request method=GET")
        logger.warning("handler failed", metadata: ["handler": "x"])
        logger.debug("not shown")
        let lines = output.available().split(separator: "\n").map(String.init)
        try #require(lines.count == 2)
        #expect(lines[0].wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4} info egress: conn=7 src=10.0.0.2:5000 \[EgressProxyTests\] request method=GET/) != nil)
        #expect(lines[1].hasSuffix(" warning egress: conn=7 handler=x src=10.0.0.2:5000 [EgressProxyTests] handler failed"))
    }
}
