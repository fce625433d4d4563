import EgressLinux
import Foundation
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
        let (duplicate, acceptedDuplicate) = try SocketTakeover.duplicate(cookie(of: connected), cookie(of: accepted))
        defer {
            close(duplicate)
            close(acceptedDuplicate)
            close(accepted)
        }
        #expect(duplicate != connected)
        #expect(cookie(of: duplicate) == cookie(of: connected))
        close(connected)
        try TestSockets.write(duplicate, Array("still here".utf8))
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = recv(accepted, &buffer, buffer.count, 0)
        #expect(String(decoding: buffer.prefix(max(count, 0)), as: UTF8.self) == "still here")
    }

    /// How many of this process's descriptors hold the socket whose cookie is `cookie`.
    private func descriptors(holding cookie: UInt64) throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").compactMap(CInt.init).count { fd in
            var value: UInt64 = 0
            var length = socklen_t(MemoryLayout<UInt64>.size)
            return getsockopt(fd, SOL_SOCKET, SocketTakeover.cookieOption, &value, &length) == 0 && value == cookie
        }
    }

    @Test func bothEndsComeFromOneScanInTheOrderAsked() throws {
        let (connected, accepted) = try TestSockets.loopbackPair()
        defer { close(connected); close(accepted) }
        let (first, second) = try SocketTakeover.duplicate(cookie(of: accepted), cookie(of: connected))
        defer { close(first); close(second) }
        #expect(cookie(of: first) == cookie(of: accepted))
        #expect(cookie(of: second) == cookie(of: connected))
        #expect(fcntl(first, F_GETFD) & FD_CLOEXEC != 0 && fcntl(second, F_GETFD) & FD_CLOEXEC != 0)
    }

    @Test func aMissingOrRepeatedCookieLeavesNoDuplicateOpen() throws {
        let (connected, accepted) = try TestSockets.loopbackPair()
        defer { close(connected); close(accepted) }
        let known = cookie(of: connected)
        // The known socket is found (and duplicated) before the scan learns the other is missing.
        let missing = #expect(throws: LinuxError.self) { try SocketTakeover.duplicate(known, UInt64.max) }
        #expect(missing?.code == ENOENT)
        let repeated = #expect(throws: LinuxError.self) { try SocketTakeover.duplicate(known, known) }
        #expect(repeated?.code == EINVAL)
        #expect(try descriptors(holding: known) == 1)
    }
}
