import EgressTesting
import EgressLinux
import Foundation
import Glibc
import Synchronization
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
            guard !chunk.isEmpty else { throw TestSupportError("end of stream after \(bytes.count) of \(count) bytes") }
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
        let engine = try RelayFixture.engineThread(of: relay)
        let fixture = try RelayFixture(relay: relay)
        let size = 16 << 20
        let pattern = StreamPattern(seed: 5)
        let senderThread = Mutex<pid_t?>(nil)
        let sender = BackgroundThread {
            senderThread.withLock { $0 = try? ThreadProbe.currentID() }
            try pattern.send(size, to: fixture.upstream)
            return size
        }
        // The client starts reading once everything is full: bytes wait at the client, the
        // origin still has bytes the relay has not taken and is itself blocked sending, and the
        // relay's thread waits for an event. Only the client's reading can move things now.
        let sending = { senderThread.withLock { $0 }.flatMap(ThreadProbe.blockedCall) }
        try waitUntil("the relay to stall on a full client", state: {
            "(relay thread: \(ThreadProbe.blockedCall(of: engine).map { "\($0)" } ?? "running"), origin: \(sending().map { "\($0)" } ?? "running"), "
                + "\(TestSockets.unread(fixture.client)) bytes at the client, \(TestSockets.unacknowledged(fixture.upstream)) at the origin)"
        }) {
            TestSockets.unread(fixture.client) > 0 && TestSockets.unacknowledged(fixture.upstream) > 0 && sending()?.isSend == true
                && ThreadProbe.blockedCall(of: engine)?.isEpollWaitWithoutTimeout == true
        }
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
        // must not take that for an empty socket. That splice comes once the client's socket is
        // full with bytes still in the one-page pipe, so the client reads nothing until then: it
        // must have more coming than its socket holds.
        // What this cannot show: a relay that does take that EAGAIN for an empty socket gets
        // through here too, as reading, unregistered while the client is full, is registered
        // again on the client's EPOLLOUT, and that brings a fresh EPOLLIN. The rule matters when
        // a splice into the client half succeeds, which a test cannot arrange.
        let relay = try SpliceRelay(pipeSize: 4096)
        let engine = try RelayFixture.engineThread(of: relay)
        let fixture = try RelayFixture(relay: relay)
        noDelay(fixture.upstream)
        let segments = (0..<40_000).map { index in Array(repeating: UInt8(truncatingIfNeeded: index), count: 1 + index % 7) }
        let sent = Array(segments.joined())
        let senderThread = Mutex<pid_t?>(nil)
        let allSent = Mutex(false)
        let sender = BackgroundThread {
            senderThread.withLock { $0 = try? ThreadProbe.currentID() }
            for segment in segments { try TestSockets.write(fixture.upstream, segment) }
            guard shutdown(fixture.upstream, Int32(SHUT_WR)) == 0 else { throw TestSockets.failure("shutdown") }
            allSent.withLock { $0 = true }
            return sent.count
        }
        // Stopped on a full client: the relay's thread waits for an event, bytes wait at the
        // client, and more are held back (the origin is blocked sending them, or they have all
        // arrived at the relay's side, the end too, yet not all reached the client).
        let sending = { senderThread.withLock { $0 }.flatMap(ThreadProbe.blockedCall) }
        try waitUntil("the relay to stop on a full client with bytes held back", state: {
            "(relay thread: \(ThreadProbe.blockedCall(of: engine).map { "\($0)" } ?? "running"), origin: \(sending().map { "\($0)" } ?? "running"), "
                + "\(TestSockets.unread(fixture.client)) of \(sent.count) bytes at the client, \(TestSockets.unacknowledged(fixture.upstream)) on their way)"
        }) {
            let waitingAtClient = TestSockets.unread(fixture.client)
            let heldBack = sending()?.isSend == true
                || (allSent.withLock { $0 } && TestSockets.unacknowledged(fixture.upstream) == 0 && waitingAtClient < sent.count)
            return waitingAtClient > 0 && heldBack && ThreadProbe.blockedCall(of: engine)?.isEpollWaitWithoutTimeout == true
        }
        #expect(try TestSockets.readToEnd(fixture.client) == sent)
        #expect(try sender.value(timeout: 30) == sent.count)
        #expect(shutdown(fixture.client, Int32(SHUT_WR)) == 0)
        #expect(try fixture.result().outcome == .completed)
    }
}
