import EgressLinux
import Foundation
import Glibc
import Testing

/// The relay touches a socket only while epoll (edge-triggered) last said it was ready: these
/// tests make every kind of edge matter, so a missed one shows up as a stall (a read timeout)
/// rather than a slower relay.
@Suite struct SpliceRelayReadinessTests {
    /// Sets TCP_NODELAY, so that each small write is its own segment.
    private func noDelay(_ fd: CInt) {
        var one: CInt = 1
        _ = setsockopt(fd, CInt(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<CInt>.size))
    }

    /// Reads exactly `count` bytes.
    private func read(_ fd: CInt, exactly count: Int) throws -> [UInt8] {
        var bytes: [UInt8] = []
        while bytes.count < count {
            let chunk = try TestSockets.read(fd, limit: count - bytes.count)
            guard !chunk.isEmpty else { throw TestFailure("end of stream after \(bytes.count) of \(count) bytes") }
            bytes += chunk
        }
        return bytes
    }

    @Test func requestsAndAnswersTakeTurnsWithoutStalling() throws {
        // An interactive protocol: each side waits for the other, so each message is one read
        // edge on one socket after the relay found both sockets empty.
        let relay = try SpliceRelay()
        let fixture = try RelayFixture(relay: relay)
        noDelay(fixture.client)
        noDelay(fixture.upstream)
        for round in 0..<500 {
            let request = Array("request \(round)".utf8)
            try TestSockets.write(fixture.client, request)
            #expect(try read(fixture.upstream, exactly: request.count) == request)
            let answer = Array(repeating: UInt8(truncatingIfNeeded: round), count: 1 + round * 37 % 3000)
            try TestSockets.write(fixture.upstream, answer)
            #expect(try read(fixture.client, exactly: answer.count) == answer)
        }
        #expect(shutdown(fixture.client, Int32(SHUT_WR)) == 0)
        #expect(try TestSockets.readToEnd(fixture.upstream).isEmpty)
        #expect(shutdown(fixture.upstream, Int32(SHUT_WR)) == 0)
        #expect(try TestSockets.readToEnd(fixture.client).isEmpty)
        #expect(try fixture.result().outcome == .completed)
    }

    @Test func aReaderThatStartsLateGetsEverything() throws {
        // The client reads nothing until the origin has sent all: the relay fills the client's
        // socket buffers, its pipe, then the origin's window, and resumes only on write edges.
        let relay = try SpliceRelay(pipeSize: 64 * 1024)
        let fixture = try RelayFixture(relay: relay)
        let size = 16 << 20
        let pattern = StreamPattern(seed: 5)
        let sender = BackgroundThread { try pattern.send(size, to: fixture.upstream); return size }
        Thread.sleep(forTimeInterval: 0.3)
        #expect(try pattern.receive(from: fixture.client) == size)
        #expect(try sender.value(timeout: 60) == size)
        #expect(shutdown(fixture.client, Int32(SHUT_WR)) == 0)
        #expect(try TestSockets.readToEnd(fixture.upstream).isEmpty)
        let result = try fixture.result()
        #expect(result.outcome == .completed)
        #expect(result.bytesToClient == UInt64(size))
    }

    @Test func manySmallSegmentsWhileTheReaderWaits() throws {
        // Thousands of tiny segments can use up the pipe's slots long before its byte capacity
        // (a splice then fails with EAGAIN although the socket still holds bytes): the relay
        // must not take that for an empty socket.
        let relay = try SpliceRelay(pipeSize: 4096)
        let fixture = try RelayFixture(relay: relay)
        noDelay(fixture.upstream)
        var sent: [UInt8] = []
        for index in 0..<4000 {
            let segment = Array(repeating: UInt8(truncatingIfNeeded: index), count: 1 + index % 7)
            try TestSockets.write(fixture.upstream, segment)
            sent += segment
        }
        #expect(shutdown(fixture.upstream, Int32(SHUT_WR)) == 0)
        Thread.sleep(forTimeInterval: 0.2)
        #expect(try TestSockets.readToEnd(fixture.client) == sent)
        #expect(shutdown(fixture.client, Int32(SHUT_WR)) == 0)
        #expect(try fixture.result().outcome == .completed)
    }
}
