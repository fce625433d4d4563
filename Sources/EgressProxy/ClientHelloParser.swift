import NIOCore

/// What Egress needs from a TLS ClientHello: the server name and the offered protocols.
struct ClientHello: Equatable, Sendable {
    /// The SNI host name, lower-cased, if the client sent one.
    var serverName: String?
    /// The ALPN protocols offered, in the client's order.
    var applicationProtocols: [String]
}

/// Reads a ClientHello out of the first bytes of a connection, without consuming them (they are
/// replayed to the TLS handler or to the upstream afterwards). Handles a ClientHello split over
/// several records; never trusts a length it has not checked.
enum ClientHelloParser {
    enum Outcome: Equatable {
        case complete(ClientHello)
        case needMoreBytes
        case malformed(String)
    }

    /// The largest ClientHello accepted (post-quantum key shares make them a few KiB).
    static let maximumLength = 16 * 1024

    static func parse(_ bytes: ByteBuffer) -> Outcome {
        var records = bytes
        var handshake = ByteBuffer()
        // Gather handshake bytes from consecutive records until the first message is whole.
        while true {
            guard let header = records.readBytes(length: 5) else { return .needMoreBytes }
            guard header[0] == 0x16 else {
                return .malformed(handshake.readableBytes == 0 ? "not a TLS handshake record" : "ClientHello interrupted by another record")
            }
            guard header[1] == 0x03 else { return .malformed("unknown record version \(header[1]).\(header[2])") }
            let length = Int(header[3]) << 8 | Int(header[4])
            guard length > 0, length <= 16384 + 256 else { return .malformed("record length \(length) out of range") }
            guard var fragment = records.readSlice(length: length) else { return .needMoreBytes }
            handshake.writeBuffer(&fragment)
            if let message = message(in: handshake) {
                return message
            }
            guard handshake.readableBytes <= maximumLength else { return .malformed("ClientHello longer than \(maximumLength) bytes") }
        }
    }

    /// The parse of the first handshake message once it is complete; nil while it is not.
    private static func message(in handshake: ByteBuffer) -> Outcome? {
        var buffer = handshake
        guard let type = buffer.readInteger(as: UInt8.self),
              let high = buffer.readInteger(as: UInt8.self), let low = buffer.readInteger(as: UInt16.self)
        else { return nil }
        guard type == 1 else { return .malformed("first handshake message is type \(type), not ClientHello") }
        let length = Int(high) << 16 | Int(low)
        guard length <= maximumLength else { return .malformed("ClientHello longer than \(maximumLength) bytes") }
        guard var body = buffer.readSlice(length: length) else { return nil }
        do {
            return .complete(try clientHello(&body))
        } catch {
            return .malformed(error.reason)
        }
    }

    private struct Malformed: Error {
        let reason: String
    }

    private static func clientHello(_ body: inout ByteBuffer) throws(Malformed) -> ClientHello {
        guard body.readInteger(as: UInt16.self) != nil, body.readSlice(length: 32) != nil else {
            throw Malformed(reason: "ClientHello truncated before the session id")
        }
        _ = try vector(&body, lengthBytes: 1, "session id")
        _ = try vector(&body, lengthBytes: 2, "cipher suites")
        _ = try vector(&body, lengthBytes: 1, "compression methods")
        var hello = ClientHello(serverName: nil, applicationProtocols: [])
        guard body.readableBytes > 0 else { return hello }  // no extensions at all
        var extensions = try vector(&body, lengthBytes: 2, "extensions")
        while extensions.readableBytes > 0 {
            guard let type = extensions.readInteger(as: UInt16.self) else { throw Malformed(reason: "truncated extension") }
            var data = try vector(&extensions, lengthBytes: 2, "extension \(type)")
            switch type {
            case 0: hello.serverName = try serverName(&data)
            case 16: hello.applicationProtocols = try applicationProtocols(&data)
            default: continue
            }
        }
        return hello
    }

    private static func serverName(_ data: inout ByteBuffer) throws(Malformed) -> String? {
        var list = try vector(&data, lengthBytes: 2, "server name list")
        while list.readableBytes > 0 {
            guard let nameType = list.readInteger(as: UInt8.self) else { throw Malformed(reason: "truncated server name") }
            let name = try vector(&list, lengthBytes: 2, "server name")
            guard nameType == 0 else { continue }
            guard name.readableBytes > 0, name.readableBytesView.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                throw Malformed(reason: "server name is not a printable ASCII host name")
            }
            return String(buffer: name).lowercased()
        }
        return nil
    }

    private static func applicationProtocols(_ data: inout ByteBuffer) throws(Malformed) -> [String] {
        var list = try vector(&data, lengthBytes: 2, "ALPN list")
        var protocols: [String] = []
        while list.readableBytes > 0 {
            protocols.append(String(buffer: try vector(&list, lengthBytes: 1, "ALPN protocol")))
        }
        return protocols
    }

    /// Reads a length-prefixed vector.
    private static func vector(_ buffer: inout ByteBuffer, lengthBytes: Int, _ what: String) throws(Malformed) -> ByteBuffer {
        let length: Int?
        if lengthBytes == 1 {
            length = buffer.readInteger(as: UInt8.self).map(Int.init)
        } else {
            length = buffer.readInteger(as: UInt16.self).map(Int.init)
        }
        guard let length, let slice = buffer.readSlice(length: length) else {
            throw Malformed(reason: "ClientHello truncated in the \(what)")
        }
        return slice
    }
}
