import EgressLinux
import Glibc
import Testing

/// Taking a socket over by its SO_COOKIE: the duplicate is the same connection, and it outlives
/// the descriptor it was found through.
@Suite struct SocketTakeoverTests {
    private func cookie(of socket: CInt) -> UInt64 {
        var value: UInt64 = 0
        var length = socklen_t(MemoryLayout<UInt64>.size)
        getsockopt(socket, SOL_SOCKET, SocketTakeover.cookieOption, &value, &length)
        return value
    }

    @Test func theDuplicateIsTheSameConnectionAndOutlivesTheOriginal() throws {
        let (connected, accepted) = try TestSockets.loopbackPair()
        defer { close(accepted) }
        let duplicate = try SocketTakeover.duplicate(cookie: cookie(of: connected))
        defer { close(duplicate) }
        #expect(duplicate != connected)
        #expect(cookie(of: duplicate) == cookie(of: connected))
        close(connected)
        try TestSockets.write(duplicate, Array("still here".utf8))
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = recv(accepted, &buffer, buffer.count, 0)
        #expect(String(decoding: buffer.prefix(max(count, 0)), as: UTF8.self) == "still here")
    }

    @Test func anUnknownCookieIsNotFound() {
        let error = #expect(throws: LinuxError.self) { try SocketTakeover.duplicate(cookie: UInt64.max) }
        #expect(error?.code == ENOENT)
    }
}
