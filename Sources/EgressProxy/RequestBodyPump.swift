import NIOCore
import NIOHTTP1
import Workers

/// The inbound side of a client connection, shared in turn by the exchange loop (request heads)
/// and the body pump of the request in flight; never by both at once, which the loop ensures by
/// awaiting the pump before it reads the next head.
final class InboundRequestParts: @unchecked Sendable {
    private var iterator: NIOAsyncChannelInboundStream<HTTPServerRequestPart>.AsyncIterator

    init(_ inbound: NIOAsyncChannelInboundStream<HTTPServerRequestPart>) {
        iterator = inbound.makeAsyncIterator()
    }

    func next() async throws -> HTTPServerRequestPart? {
        try await iterator.next()
    }

    /// Moves a request body from the connection into `writer`, chunk by chunk as the reader
    /// takes them; once the reader is gone, reads and drops the rest. True if the body ended
    /// normally, false if the client went away in the middle of it.
    func pumpBody(into writer: BodyWriter) async -> Bool {
        var delivering = true
        do {
            while let part = try await next() {
                switch part {
                case .body(let chunk):
                    guard delivering else { continue }
                    do { try await writer.write(chunk) } catch { delivering = false }
                case .end:
                    writer.finish()
                    return true
                case .head:
                    writer.finish(throwing: ClientGone(reason: "a new request head inside a body"))
                    return false
                }
            }
            writer.finish(throwing: ClientGone(reason: "the client closed the connection in the middle of the request body"))
        } catch {
            writer.finish(throwing: ClientGone(reason: "the client connection failed in the middle of the request body: \(error)"))
        }
        return false
    }
}

/// The request body stopped because of the client.
struct ClientGone: Error, CustomStringConvertible {
    let reason: String

    var description: String { reason }
}
