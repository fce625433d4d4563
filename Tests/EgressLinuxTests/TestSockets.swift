import EgressLinux
import EgressRules
import Foundation
import Glibc

/// Blocking socket calls for tests, each bounded in time so that a broken relay fails a test
/// instead of hanging it.
enum TestSockets {
    /// How long a blocking read or write may wait (SO_RCVTIMEO, SO_SNDTIMEO).
    static let ioTimeout = 30

    static func failure(_ operation: String) -> LinuxError {
        LinuxError(operation: operation, code: errno)
    }

    /// `endpoint` as a socket address for connect/bind.
    static func socketAddress(_ endpoint: IPEndpoint) -> (sockaddr_storage, socklen_t) {
        var storage = sockaddr_storage()
        let length: Int
        switch endpoint.address {
        case .v4:
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = endpoint.port.bigEndian
            withUnsafeMutableBytes(of: &address.sin_addr) { $0.copyBytes(from: endpoint.address.networkBytes) }
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: address, as: sockaddr_in.self) }
            length = MemoryLayout<sockaddr_in>.size
        case .v6:
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = endpoint.port.bigEndian
            withUnsafeMutableBytes(of: &address.sin6_addr) { $0.copyBytes(from: endpoint.address.networkBytes) }
            withUnsafeMutableBytes(of: &storage) { $0.storeBytes(of: address, as: sockaddr_in6.self) }
            length = MemoryLayout<sockaddr_in6>.size
        }
        return (storage, socklen_t(length))
    }

    /// Makes `fd` blocking, with read and write timeouts.
    static func makeBlocking(_ fd: CInt) throws {
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0 else { throw failure("fcntl") }
        var timeout = timeval(tv_sec: ioTimeout, tv_usec: 0)
        for option in [SO_RCVTIMEO, SO_SNDTIMEO] {
            guard setsockopt(fd, SOL_SOCKET, option, &timeout, socklen_t(MemoryLayout<timeval>.size)) == 0 else {
                throw failure("setsockopt(timeout)")
            }
        }
    }

    /// Waits until `fd` is ready for `events`, at most `seconds`.
    static func wait(_ fd: CInt, for events: Int32, seconds: Int32, operation: String) throws {
        var descriptor = pollfd(fd: fd, events: Int16(events), revents: 0)
        let ready = poll(&descriptor, 1, seconds * 1000)
        guard ready >= 0 else { throw failure("poll") }
        guard ready > 0 else { throw LinuxError(operation: operation, code: ETIMEDOUT) }
    }

    /// Connects `fd` (made non-blocking) to `endpoint` within `seconds`, then makes it blocking.
    static func connect(_ fd: CInt, to endpoint: IPEndpoint, seconds: Int32 = 10) throws {
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else { throw failure("fcntl") }
        var (address, length) = socketAddress(endpoint)
        let started = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) }
        }
        if started != 0 {
            guard errno == EINPROGRESS else { throw failure("connect") }
            try wait(fd, for: POLLOUT, seconds: seconds, operation: "connect to \(endpoint)")
            var code: Int32 = 0
            var size = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &size) == 0 else { throw failure("getsockopt(SO_ERROR)") }
            guard code == 0 else { throw LinuxError(operation: "connect to \(endpoint)", code: code) }
        }
        try makeBlocking(fd)
    }

    /// Accepts one connection on `listener` within `seconds`; the socket is blocking.
    static func accept(_ listener: CInt, seconds: Int32 = 10) throws -> CInt {
        try wait(listener, for: POLLIN, seconds: seconds, operation: "accept")
        let fd = Glibc.accept(listener, nil, nil)
        guard fd >= 0 else { throw failure("accept") }
        try makeBlocking(fd)
        return fd
    }

    /// A listening socket in the test process's own namespace, on loopback; returns it and its port.
    static func listen(on address: IPAddress = .loopbackV4) throws -> (fd: CInt, port: UInt16) {
        let fd = socket(address.socketFamily, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw failure("socket") }
        var (storage, length) = socketAddress(IPEndpoint(address: address, port: 0))
        let bound = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0, Glibc.listen(fd, 64) == 0 else {
            let error = failure("bind/listen")
            close(fd)
            throw error
        }
        return (fd, try IPEndpoint.local(of: fd).port)
    }

    /// Two ends of one TCP connection over 127.0.0.1, both blocking with timeouts.
    static func loopbackPair() throws -> (connected: CInt, accepted: CInt) {
        let (listener, port) = try listen()
        defer { close(listener) }
        let connected = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard connected >= 0 else { throw failure("socket") }
        do {
            try connect(connected, to: IPEndpoint(address: .loopbackV4, port: port))
            return (connected, try accept(listener))
        } catch {
            close(connected)
            throw error
        }
    }

    /// Writes all of `bytes`.
    static func write(_ fd: CInt, _ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let written = send(fd, bytes.baseAddress.map { $0 + offset }, bytes.count - offset, Int32(MSG_NOSIGNAL))
            guard written > 0 else { throw failure("send") }
            offset += written
        }
    }

    /// Writes all of `bytes`.
    static func write(_ fd: CInt, _ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write(fd, $0) }
    }

    /// Reads what is there, up to `limit` bytes; empty at end of stream.
    static func read(_ fd: CInt, limit: Int = 65536) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: limit)
        let count = recv(fd, &buffer, limit, 0)
        guard count >= 0 else { throw failure("recv") }
        return Array(buffer.prefix(count))
    }

    /// Reads until end of stream.
    static func readToEnd(_ fd: CInt) throws -> [UInt8] {
        var bytes: [UInt8] = []
        while true {
            let chunk = try read(fd)
            if chunk.isEmpty { return bytes }
            bytes += chunk
        }
    }

    /// Closes `fd` with a reset (SO_LINGER of zero) instead of an orderly end of stream.
    static func closeWithReset(_ fd: CInt) {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close(fd)
    }

    /// Bytes that have arrived at `fd` and wait to be read (`FIONREAD`).
    static func unread(_ fd: CInt) -> Int {
        var count: CInt = 0
        return ioctl(fd, UInt(FIONREAD), &count) == 0 ? Int(count) : -1
    }

    /// Bytes written to `fd` that its peer has not taken yet, the end of stream included
    /// (`SIOCOUTQ`: sent but unacknowledged, or not sent).
    static func unacknowledged(_ fd: CInt) -> Int {
        var count: CInt = 0
        return ioctl(fd, UInt(TIOCOUTQ), &count) == 0 ? Int(count) : -1
    }

    /// Whether `fd` is an open descriptor.
    static func isOpen(_ fd: CInt) -> Bool {
        fcntl(fd, F_GETFD) >= 0
    }
}
