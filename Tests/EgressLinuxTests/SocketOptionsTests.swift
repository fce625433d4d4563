import EgressLinux
import EgressTesting
import Glibc
import Testing

/// Socket options on plain sockets of this process (no namespace needed, but CAP_NET_ADMIN).
@Suite(.requiresRoot) struct SocketOptionsTests {
    private func withSocket(_ family: Int32, _ body: (CInt) throws -> Void) throws {
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        try #require(fd >= 0)
        defer { close(fd) }
        try body(fd)
    }

    @Test func aMarkIsSetAndReadBack() throws {
        try withSocket(AF_INET) { fd in
            #expect(try SocketOptions.mark(of: fd) == 0)
            try SocketOptions.setMark(0xE6E5, on: fd)
            #expect(try SocketOptions.mark(of: fd) == 0xE6E5)
        }
    }

    @Test(arguments: [AF_INET, AF_INET6])
    func transparencyIsSetAndReadBack(family: Int32) throws {
        try withSocket(family) { fd in
            #expect(try !SocketOptions.isTransparent(fd))
            try SocketOptions.setTransparent(true, on: fd)
            #expect(try SocketOptions.isTransparent(fd))
            try SocketOptions.setTransparent(false, on: fd)
            #expect(try !SocketOptions.isTransparent(fd))
        }
    }

    @Test func failuresCarryTheCallAndErrnoText() throws {
        let error = #expect(throws: LinuxError.self) { try SocketOptions.setMark(1, on: -1) }
        #expect(error?.description == "setsockopt(SO_MARK): Bad file descriptor (errno 9)")
        var pipe: [Int32] = [0, 0]
        try #require(Glibc.pipe(&pipe) == 0)
        defer { close(pipe[0]); close(pipe[1]) }
        #expect(throws: LinuxError(operation: "getsockopt(SO_MARK)", code: ENOTSOCK)) { try SocketOptions.mark(of: pipe[0]) }
        #expect(throws: LinuxError(operation: "getsockopt(SO_DOMAIN)", code: ENOTSOCK)) { try SocketOptions.setTransparent(true, on: pipe[0]) }
        #expect(throws: LinuxError(operation: "getsockname", code: ENOTSOCK)) { try OriginalDestination.of(socket: pipe[0]) }
    }
}
