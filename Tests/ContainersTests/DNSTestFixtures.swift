import NIOCore
import Synchronization
import XCTest

@testable import Containers

#if canImport(Glibc)
import Glibc
#endif

/// Builds DNS messages byte by byte, as a client would send them (no parser of ours involved).
enum DNSWire {
    /// A name in wire form: length-prefixed labels and the root label.
    static func name(_ text: String) -> [UInt8] {
        text.split(separator: ".").flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) } + [0]
    }

    /// A header with the given counts.
    static func header(
        id: UInt16 = 0xBEEF, flags: UInt16 = 0x0100, questions: UInt16 = 1, answers: UInt16 = 0, authorities: UInt16 = 0,
        additionals: UInt16 = 0
    ) -> [UInt8] {
        [id, flags, questions, answers, authorities, additionals].flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }

    /// An EDNS OPT record advertising `payloadSize`.
    static func opt(payloadSize: UInt16) -> [UInt8] {
        [0, 0, 41, UInt8(payloadSize >> 8), UInt8(payloadSize & 0xFF), 0, 0, 0, 0, 0, 0]
    }

    /// A standard query for `name`, with an OPT record when `edns` is given.
    static func query(_ name: String, type: UInt16 = DNSRecordType.a, recordClass: UInt16 = 1, id: UInt16 = 0xBEEF, edns: UInt16? = nil) -> ByteBuffer {
        var bytes = header(id: id, additionals: edns == nil ? 0 : 1) + self.name(name)
        bytes += [UInt8(type >> 8), UInt8(type & 0xFF), UInt8(recordClass >> 8), UInt8(recordClass & 0xFF)]
        if let edns { bytes += opt(payloadSize: edns) }
        return ByteBuffer(bytes: bytes)
    }

    /// The parsed query of `query(...)`, failing the test if it does not parse.
    static func parsedQuery(_ name: String, type: UInt16 = DNSRecordType.a, edns: UInt16? = nil) throws -> DNSQuery {
        let parsed = DNSQuery.parse(self.query(name, type: type, edns: edns))
        guard case .query(let query) = parsed else { throw DNSMessageError.malformed("the query for \(name) read as \(parsed)") }
        return query
    }
}

/// A response read back field by field, independently of the encoder.
struct DecodedResponse {
    var id: UInt16
    var flags: UInt16
    var questionName: [UInt8]
    var answers: [(type: UInt16, ttl: UInt32, data: [UInt8])] = []
    var additionalCount: UInt16

    var responseCode: UInt16 { flags & 0xF }
    var isTruncated: Bool { flags & 0x0200 != 0 }

    init(_ buffer: ByteBuffer) throws {
        var buffer = buffer
        let header = try XCTUnwrap(buffer.readMultipleIntegers(as: (UInt16, UInt16, UInt16, UInt16, UInt16, UInt16).self))
        (id, flags, additionalCount) = (header.0, header.1, header.5)
        questionName = []
        for _ in 0..<header.2 {
            questionName = try Self.readUncompressedName(&buffer)
            _ = try XCTUnwrap(buffer.readMultipleIntegers(as: (UInt16, UInt16).self))
        }
        for _ in 0..<header.3 {
            let (pointer, type, _, ttl, length) = try XCTUnwrap(buffer.readMultipleIntegers(as: (UInt16, UInt16, UInt16, UInt32, UInt16).self))
            XCTAssertEqual(pointer, 0xC00C, "answers point at the question's name")
            answers.append((type, ttl, try XCTUnwrap(buffer.readBytes(length: Int(length)))))
        }
    }

    private static func readUncompressedName(_ buffer: inout ByteBuffer) throws -> [UInt8] {
        var name: [UInt8] = []
        while let length = buffer.readInteger(as: UInt8.self), length > 0 {
            name += [length] + (try XCTUnwrap(buffer.readBytes(length: Int(length))))
        }
        return name + [0]
    }
}

/// A host resolver answering from a table; names not in it do not exist. Names in `gated` wait
/// until ``open()`` is called, to hold a lookup in flight.
final class TableResolver: HostNameResolver, Sendable {
    private let table: [String: Result<HostAddresses, HostNameResolutionError>]
    private let gated: Set<String>
    private let state = Mutex<(asked: [String], isOpen: Bool, waiting: [CheckedContinuation<Void, Never>])>(([], false, []))

    init(_ table: [String: Result<HostAddresses, HostNameResolutionError>] = [:], gated: Set<String> = []) {
        self.table = table
        self.gated = gated
    }

    /// The names looked up so far, in order.
    var asked: [String] { state.withLock { $0.asked } }

    /// Lets gated lookups (waiting and future) finish.
    func open() {
        let waiting = state.withLock { state in
            state.isOpen = true
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    func addresses(of name: String) async throws(HostNameResolutionError) -> HostAddresses {
        state.withLock { $0.asked.append(name) }
        if gated.contains(name) {
            await withCheckedContinuation { continuation in
                let proceed = state.withLock { state in
                    if !state.isOpen { state.waiting.append(continuation) }
                    return state.isOpen
                }
                if proceed { continuation.resume() }
            }
        }
        return try (table[name] ?? .failure(.notFound)).get()
    }
}

/// UDP sockets made the way the container code hands them to the server.
enum DNSTestSockets {
    /// A non-blocking, close-on-exec UDP socket bound to `address` in the calling thread's
    /// network namespace.
    static func boundUDP(_ address: SocketAddress) throws -> CInt {
        let family = address.protocol == .inet6 ? AF_INET6 : AF_INET
        let socket = Glibc.socket(family, CInt(SOCK_DGRAM.rawValue) | CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { throw DNSMessageError.malformed("socket: errno \(errno)") }
        guard address.withSockAddr({ Glibc.bind(socket, $0, socklen_t($1)) }) == 0 else {
            Glibc.close(socket)
            throw DNSMessageError.malformed("bind \(address): errno \(errno)")
        }
        return socket
    }

    /// Whether `descriptor` is an open file descriptor.
    static func isOpen(_ descriptor: CInt) -> Bool {
        fcntl(descriptor, F_GETFD) != -1
    }
}
