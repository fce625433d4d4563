import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import Workers

/// One HTTP/1.1 connection to an upstream, serving one request at a time from a task of its own.
///
/// The task owns the channel (through `NIOAsyncChannel`): it writes each request, streams the
/// request body out and the response body back (each chunk handed over only when the reader
/// takes it), then offers the connection for reuse if both sides keep it alive.
final class UpstreamConnection: Sendable {
    private struct Job: Sendable {
        let request: Request
        let response: CheckedContinuation<Response, any Error>
    }

    typealias Channel = NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>

    let target: UpstreamTarget
    private let eventLoop: any EventLoop
    private let jobs: AsyncStream<Job>.Continuation
    private let closed = Atomic<Bool>(false)
    private let idle: (@Sendable (UpstreamConnection) -> Void)?

    /// Starts serving `channel`; `idle` is called each time the connection may be reused; without
    /// it the connection carries one exchange (its request says `Connection: close`).
    init(target: UpstreamTarget, channel: Channel, idle: (@Sendable (UpstreamConnection) -> Void)?) {
        self.target = target
        self.eventLoop = channel.channel.eventLoop
        self.idle = idle
        let (stream, continuation) = AsyncStream<Job>.makeStream()
        self.jobs = continuation
        // An origin that closes an idle kept-alive connection is noticed here, before reuse.
        channel.channel.closeFuture.whenComplete { [self] _ in
            closed.store(true, ordering: .releasing)
        }
        Task { [self] in
            await serve(channel, jobs: stream)
        }
    }

    /// Whether the connection has ended (its server closed it, or an exchange failed).
    var isClosed: Bool { closed.load(ordering: .acquiring) }

    /// Sends `request` and returns the response once its head has arrived; the body follows.
    func send(_ request: Request) async throws -> Response {
        try await withCheckedThrowingContinuation { continuation in
            if case .terminated = jobs.yield(Job(request: request, response: continuation)) {
                continuation.resume(throwing: UpstreamError("connection to \(target) is closed"))
            }
        }
    }

    private func serve(_ channel: Channel, jobs: AsyncStream<Job>) async {
        defer {
            closed.store(true, ordering: .releasing)
            self.jobs.finish()
        }
        try? await channel.executeThenClose { inbound, outbound in
            var parts = inbound.makeAsyncIterator()
            for await job in jobs {
                var answered = false
                do {
                    let reusable = try await exchange(job, parts: &parts, outbound: outbound, answered: &answered)
                    guard reusable, let idle else { return }
                    idle(self)
                } catch let stale as StaleConnection {
                    job.response.resume(throwing: stale)
                    return
                } catch {
                    if !answered { job.response.resume(throwing: UpstreamError("\(target): \(error)")) }
                    return
                }
            }
        }
    }

    /// One request and response; true if the connection may carry another.
    private func exchange(
        _ job: Job,
        parts: inout NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator,
        outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>,
        answered: inout Bool
    ) async throws -> Bool {
        let head = HTTPConversion.upstreamHead(job.request.head, knownLength: job.request.body.knownLength, close: idle == nil)
        // A body of known bytes can be sent again: a kept-alive connection the origin closed
        // while idle is then reported as stale, and the client retries on a new one.
        let replayable = job.request.body.knownLength != nil
        do {
            if replayable {
                // A body already in memory goes out with its head in one write.
                var parts: [HTTPClientRequestPart] = [.head(head)]
                for try await chunk in job.request.body { parts.append(.body(.byteBuffer(chunk))) }
                parts.append(.end(nil))
                try await outbound.write(contentsOf: parts)
            } else {
                try await outbound.write(.head(head))
            }
        } catch {
            throw StaleConnection(reason: "\(error)")
        }
        if !replayable {
            var pacer = WritePacer(eventLoop: eventLoop)
            for try await chunk in job.request.body {
                try await outbound.write(.body(.byteBuffer(chunk)))
                try await pacer.wrote(chunk.readableBytes)
            }
            try await outbound.write(.end(nil))
        }

        var responseHead: HTTPResponseHead
        var first = true
        repeat {
            let part: HTTPClientResponsePart?
            do {
                part = try await parts.next()
            } catch where first && replayable {
                throw StaleConnection(reason: "\(error)")
            }
            guard case .head(let next) = part else {
                if first && replayable { throw StaleConnection(reason: "closed before sending a response") }
                throw UpstreamError("closed before sending a response")
            }
            responseHead = next
            first = false
        } while responseHead.status.code / 100 == 1 && responseHead.status.code != 101

        if let small = try await smallBody(of: responseHead, parts: &parts) {
            // Read whole before answering: no hand-over per chunk for small responses.
            answered = true
            job.response.resume(returning: Response(head: HTTPConversion.response(responseHead), body: Body(small)))
            return responseHead.isKeepAlive
        }
        let (body, writer) = Body.makeStream()
        answered = true
        job.response.resume(returning: Response(head: HTTPConversion.response(responseHead), body: body))
        while let part = try await parts.next() {
            switch part {
            case .body(let chunk):
                // A reader that went away (its client disconnected) ends the connection too.
                do { try await writer.write(chunk) } catch { return false }
            case .end:
                writer.finish()
                return responseHead.isKeepAlive
            case .head:
                throw UpstreamError("a second response head without a request")
            }
        }
        writer.finish(throwing: UpstreamError("\(target) closed the connection in the middle of the body"))
        return false
    }
}

extension UpstreamConnection {
    /// The largest response body read whole before the response is handed on.
    static let smallBodyLimit = 64 * 1024

    /// The whole body of a response whose `content-length` is at most ``smallBodyLimit``, read to
    /// its end; nil (nothing read) for any other response.
    fileprivate func smallBody(
        of head: HTTPResponseHead, parts: inout NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator
    ) async throws -> ByteBuffer? {
        guard let length = head.headers.first(name: "content-length").flatMap(Int.init),
              length <= Self.smallBodyLimit, !head.headers.contains(name: "transfer-encoding")
        else { return nil }
        var body = ByteBuffer()
        while let part = try await parts.next() {
            switch part {
            case .body(var chunk): body.writeBuffer(&chunk)
            case .end: return body
            case .head: throw UpstreamError("a second response head without a request")
            }
        }
        throw UpstreamError("\(target) closed the connection in the middle of the body")
    }
}

/// A kept-alive connection turned out closed before the request could be delivered; sending it
/// again on a new connection is safe.
struct StaleConnection: Error, CustomStringConvertible {
    let reason: String

    var description: String { "the kept-alive connection was closed by the origin (\(reason))" }
}
