import NIOCore
import NIOHTTP1
import Workers

/// Turns an upstream response into a ``Response`` for an awaiting sender: a small body (by its
/// `content-length`) is read whole before the promise is fulfilled, so it costs no hand-over per
/// chunk; a larger one streams to its reader, whose demand gates reads from the upstream.
final class UpstreamPromiseSink: UpstreamResponseSink {
    /// The largest response body read whole before the response is handed on.
    static let smallBodyLimit = 64 * 1024

    private enum State {
        case awaitingHead
        case collecting(HTTPResponseHead, ByteBuffer)
        case streaming(UpstreamResponseBody.Producer.Source)
        case done
    }

    private let promise: EventLoopPromise<Response>
    private var state = State.awaitingHead

    init(promise: EventLoopPromise<Response>) {
        self.promise = promise
    }

    func receivedHead(_ head: HTTPResponseHead, control: UpstreamExchangeControl) {
        if Self.hasSmallBody(head) {
            state = .collecting(head, ByteBuffer())
            return
        }
        let demand = UpstreamResponseBody.Demand(
            eventLoop: promise.futureResult.eventLoop,
            more: { control.resumeReads() },
            terminated: { control.abandon() }
        )
        let (body, source) = UpstreamResponseBody.make(demand: demand)
        state = .streaming(source)
        promise.succeed(Response(head: HTTPConversion.response(head), body: Body(body)))
    }

    func receivedBody(_ chunk: ByteBuffer) -> Bool {
        switch state {
        case .collecting(let head, var collected):
            state = .done  // no second reference to `collected` while it grows
            var chunk = chunk
            collected.writeBuffer(&chunk)
            state = .collecting(head, collected)
            return true
        case .streaming(let source):
            // `.dropped`: the reader is gone, and the exchange is abandoned when it says so.
            return source.yield(chunk) != .stopProducing
        case .awaitingHead, .done:
            return true
        }
    }

    func readComplete() {}

    func receivedEnd() {
        switch state {
        case .collecting(let head, let collected):
            promise.succeed(Response(head: HTTPConversion.response(head), body: Body(collected)))
        case .streaming(let source):
            source.finish()
        case .awaitingHead, .done:
            break
        }
        state = .done
    }

    func failed(_ error: any Error) {
        switch state {
        case .awaitingHead, .collecting:
            promise.fail(error)
        case .streaming(let source):
            source.finish(error)
        case .done:
            break
        }
        state = .done
    }

    /// Whether the response announces a body of at most ``smallBodyLimit`` bytes by its length.
    private static func hasSmallBody(_ head: HTTPResponseHead) -> Bool {
        guard let length = head.headers.first(name: "content-length").flatMap(Int.init), length <= smallBodyLimit else {
            return false
        }
        return !head.headers.contains(name: "transfer-encoding")
    }
}
