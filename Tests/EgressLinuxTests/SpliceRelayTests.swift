import EgressLinux
import Foundation
import Glibc
import Synchronization
import Testing

/// The splice(2) relay between real TCP connections (over 127.0.0.1 in the test's own
/// namespace): volume and content, half-close, resets, initial bytes, shutdown, misuse.
@Suite struct SpliceRelayTests {
    @Test(arguments: [64 * 1024, 1024 * 1024])
    func relays64MiBEachWayIntact(pipeSize: Int) throws {
        let relay = try SpliceRelay(pipeSize: pipeSize)
        #expect(relay.pipeSize == pipeSize)
        let fixture = try RelayFixture(relay: relay)
        let size = 64 << 20
        let toUpstream = StreamPattern(seed: 1), toClient = StreamPattern(seed: 2)
        let work = [
            BackgroundThread { try toUpstream.send(size, to: fixture.client); return size },
            BackgroundThread { try toClient.send(size, to: fixture.upstream); return size },
            BackgroundThread { try toUpstream.receive(from: fixture.upstream) },
            BackgroundThread { try toClient.receive(from: fixture.client) },
        ]
        for part in work {
            #expect(try part.value(timeout: 120) == size)
        }
        let result = try fixture.result()
        #expect(result.outcome == .completed)
        #expect(result.bytesToUpstream == UInt64(size))
        #expect(result.bytesToClient == UInt64(size))
        #expect(result.duration > .zero)
    }

    @Test func halfClosePassesEndOfStreamOnwards() throws {
        let relay = try SpliceRelay()
        let fixture = try RelayFixture(relay: relay)
        try TestSockets.write(fixture.client, Array("GET / HTTP/1.0\r\n\r\n".utf8))
        #expect(shutdown(fixture.client, Int32(SHUT_WR)) == 0)
        // The origin sees the request and its end, and can still answer.
        #expect(try TestSockets.readToEnd(fixture.upstream) == Array("GET / HTTP/1.0\r\n\r\n".utf8))
        #expect(!fixture.hasReported)
        try TestSockets.write(fixture.upstream, Array("HTTP/1.0 200 OK\r\n\r\nhello".utf8))
        #expect(shutdown(fixture.upstream, Int32(SHUT_WR)) == 0)
        #expect(try TestSockets.readToEnd(fixture.client) == Array("HTTP/1.0 200 OK\r\n\r\nhello".utf8))
        let result = try fixture.result()
        #expect(result.outcome == .completed)
        #expect(result.bytesToUpstream == 18)
        #expect(result.bytesToClient == 24)
    }

    @Test(arguments: ["client", "upstream"])
    func aResetOnOneSideResetsTheOther(side: String) throws {
        let relay = try SpliceRelay()
        let fixture = try RelayFixture(relay: relay)
        let (resetting, other) = side == "client" ? (fixture.client, fixture.upstream) : (fixture.upstream, fixture.client)
        try TestSockets.write(resetting, Array("partial".utf8))
        #expect(try TestSockets.read(other) == Array("partial".utf8))
        fixture.close(resetting, reset: true)
        #expect(throws: LinuxError(operation: "recv", code: ECONNRESET)) { try TestSockets.readToEnd(other) }
        let result = try fixture.result()
        guard case .failed(let error) = result.outcome else {
            Issue.record("expected a failure, got \(result)")
            return
        }
        #expect(error.code == ECONNRESET || error.code == EPIPE, "\(error)")
        #expect(error.description.contains(side), "\(error)")
    }

    @Test func initialBytesArriveFirst() throws {
        let relay = try SpliceRelay()
        // More initial bytes than the sockets buffer, so sending them takes several turns; the
        // client's own bytes are already waiting when the relay starts.
        let hello = StreamPattern(seed: 3, length: 8 << 20).pattern
        let fixture = try RelayFixture(relay: relay, initialUpstreamBytes: hello) { client in
            try TestSockets.write(client, Array("after".utf8))
            #expect(shutdown(client, Int32(SHUT_WR)) == 0)
        }
        let received = try TestSockets.readToEnd(fixture.upstream)
        #expect(received.count == hello.count + 5)
        #expect(received.prefix(hello.count).elementsEqual(hello))
        #expect(received.suffix(5).elementsEqual(Array("after".utf8)))
        #expect(shutdown(fixture.upstream, Int32(SHUT_WR)) == 0)
        let result = try fixture.result()
        #expect(result.outcome == .completed)
        #expect(result.bytesToUpstream == UInt64(hello.count + 5))
    }

    @Test func shutdownCancelsPairsAndRefusesNewOnes() throws {
        let relay = try SpliceRelay()
        let fixture = try RelayFixture(relay: relay)
        relay.shutdown()
        #expect(try fixture.result(timeout: 0).outcome == .cancelled)
        #expect(throws: LinuxError(operation: "recv", code: ECONNRESET)) { try TestSockets.readToEnd(fixture.client) }
        relay.shutdown()

        let (a, b) = try TestSockets.loopbackPair()
        defer { close(a); close(b) }
        #expect(throws: LinuxError(operation: "relay", code: ESHUTDOWN)) {
            try relay.relay(client: a, upstream: b) { _ in Issue.record("a refused pair completed") }
        }
        #expect(TestSockets.isOpen(a) && TestSockets.isOpen(b))
    }

    @Test func badDescriptorsAreRefusedAndStayTheCallers() throws {
        let relay = try SpliceRelay()
        let (a, b) = try TestSockets.loopbackPair()
        defer { close(a); close(b) }
        for (client, upstream) in [(-1, a), (a, a)] {
            let error = #expect(throws: LinuxError.self) {
                try relay.relay(client: client, upstream: upstream) { _ in Issue.record("a refused pair completed") }
            }
            #expect(error?.code == EBADF)
            #expect(error?.description.contains("Bad file descriptor") == true)
        }
        // A descriptor number that cannot be open (a closed one could be reused by a parallel test).
        let neverOpen = CInt.max
        #expect(throws: LinuxError(operation: "fcntl(F_GETFL)", code: EBADF)) {
            try relay.relay(client: a, upstream: neverOpen) { _ in Issue.record("a refused pair completed") }
        }
        #expect(TestSockets.isOpen(a) && TestSockets.isOpen(b))
        // Still blocking: a refused pair leaves the sockets as they were.
        #expect(fcntl(a, F_GETFL) & O_NONBLOCK == 0)
    }

    @Test func pipeSizeIsBounded() throws {
        #expect(try SpliceRelay(pipeSize: 0).pipeSize == 65536)
        #expect(try SpliceRelay(pipeSize: 100_000).pipeSize == 128 * 1024)
        #expect(throws: LinuxError(operation: "F_SETPIPE_SZ", code: EINVAL)) { try SpliceRelay(pipeSize: 4 << 20) }
    }

    /// Every relay's thread has this name, and other tests' relays run meanwhile in this process:
    /// the thread looked at is this relay's own (the one its completions run on), and it goes
    /// when the relay shuts down.
    @Test func theEngineThreadIsNamed() throws {
        let relay = try SpliceRelay()
        let engine = try RelayFixture.engineThread(of: relay)
        #expect(ThreadProbe.name(of: engine) == "egress-splice")
        relay.shutdown()
        // Joined is not yet gone from /proc: the kernel releases the task just after.
        try waitUntil("the engine thread \(engine) to end with its relay", timeout: .seconds(10)) { ThreadProbe.name(of: engine) == nil }
    }

    @Test func manyPairsShareOneEngine() throws {
        let relay = try SpliceRelay()
        let size = 1 << 20
        let pattern = StreamPattern(seed: 4)
        let fixtures = try (0..<16).map { _ in try RelayFixture(relay: relay) }
        let work = fixtures.flatMap { fixture in
            [
                BackgroundThread { try pattern.send(size, to: fixture.client); return size },
                BackgroundThread { try pattern.send(size, to: fixture.upstream); return size },
                BackgroundThread { try pattern.receive(from: fixture.upstream) },
                BackgroundThread { try pattern.receive(from: fixture.client) },
            ]
        }
        for part in work {
            #expect(try part.value(timeout: 120) == size)
        }
        for fixture in fixtures {
            let result = try fixture.result()
            #expect(result.outcome == .completed)
            #expect(result.bytesToUpstream == UInt64(size) && result.bytesToClient == UInt64(size))
        }
    }

    @Test func theLastReferenceMayGoInACompletion() throws {
        var relay: SpliceRelay? = try SpliceRelay()
        let done = DispatchSemaphore(value: 0)
        let (client, clientInner) = try TestSockets.loopbackPair()
        let (upstreamInner, upstream) = try TestSockets.loopbackPair()
        defer { close(client); close(upstream) }
        try relay?.relay(client: clientInner, upstream: upstreamInner) { [relay] _ in
            // The closure, and with it the relay, is released on the engine thread.
            _ = relay
            done.signal()
        }
        relay = nil
        #expect(shutdown(client, Int32(SHUT_WR)) == 0 && shutdown(upstream, Int32(SHUT_WR)) == 0)
        #expect(done.wait(timeout: .now() + 10) == .success)
    }
}
