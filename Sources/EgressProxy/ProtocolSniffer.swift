import NIOCore

/// What the first bytes of a redirected connection say it speaks.
enum SniffedProtocol: Equatable, Sendable {
    /// A TLS ClientHello (malformed ones are reported as such).
    case tls(ClientHello)
    /// A TLS record that is not a usable ClientHello.
    case malformedTLS(String)
    /// An HTTP/1.x request line.
    case http
    /// Anything else: passed through as opaque TCP.
    case opaque
    /// Too few bytes to tell yet.
    case needMoreBytes
}

/// Classifies the first bytes of a connection: TLS, HTTP/1.x, or opaque.
enum ProtocolSniffer {
    /// The longest method token recognised as HTTP (`OPTIONS`, `CONNECT`, WebDAV's `PROPFIND`, ...).
    private static let maximumMethodLength = 16

    static func classify(_ bytes: ByteBuffer) -> SniffedProtocol {
        guard let first = bytes.getInteger(at: bytes.readerIndex, as: UInt8.self) else { return .needMoreBytes }
        if first == 0x16 {
            switch ClientHelloParser.parse(bytes) {
            case .complete(let hello): return .tls(hello)
            case .needMoreBytes: return .needMoreBytes
            case .malformed(let reason): return .malformedTLS(reason)
            }
        }
        return classifyRequestLine(bytes)
    }

    /// HTTP/1.x if the bytes start with an upper-case method token and a space. The HTTP/2
    /// connection preface (`PRI * HTTP/2.0`) is opaque: Egress intercepts HTTP/1.x only.
    private static func classifyRequestLine(_ bytes: ByteBuffer) -> SniffedProtocol {
        var length = 0
        for byte in bytes.readableBytesView.prefix(maximumMethodLength + 1) {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                length += 1
            case UInt8(ascii: " ") where length > 0:
                let preface = bytes.readableBytesView.starts(with: "PRI * HTTP/2".utf8)
                return preface ? .opaque : .http
            default:
                return .opaque
            }
        }
        return length <= maximumMethodLength ? .needMoreBytes : .opaque
    }
}
