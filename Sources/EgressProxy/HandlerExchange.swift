import Logging
import NIOCore
import NIOHTTP1
import Workers

/// A request that the gate serves itself, on the client connection's event loop.
protocol GateExchange: AnyObject {
    /// Whether the client's request has ended (its end part went by).
    var requestEnded: Bool { get set }
    func start()
    /// The client's channel can take writes again.
    func clientWritable()
    /// The client went away.
    func clientGone()
}

/// One request without a body that the gate hands to a handler itself: one task on the
/// connection's event loop calls the handler and writes its response straight to the channel,
/// with a timer on the loop for the handler's timeout (no second task, no race between threads).
/// The timer is armed only if the handler did not answer within its first slice on the loop (a
/// fixed response never needs one).
///
/// A handler that throws gets a `502` naming it; one that has not answered when its timeout
/// passes (counted from the moment it starts) gets a `502` saying so, and is cancelled and left
/// behind, so the connection goes on. Each request gets its decision line, also when the client
/// leaves before the answer.
final class HandlerExchange: GateExchange {
    private let head: HTTPRequestHead
    private let request: Request
    private let worker: Worker
    private let rule: String
    private let context: ChannelHandlerContext
    private let connection: ConnectionContext
    private let invocation: WorkerInvocation
    /// Told when the exchange is over; gone if the connection's pipeline went first.
    private weak var gate: RequestGate?
    private let started = ContinuousClock.now
    private var task: Task<Void, Never>?
    private var timer: NIOScheduledCallback?
    /// A response (the handler's, or a `502`) is on its way: whatever comes second is dropped.
    private var answered = false
    private var done = false
    /// A flush is queued on the event loop (``flushWhenWaiting()``).
    private var flushPending = false
    /// How many bytes of a streamed body may be written before the task waits for them.
    static let unflushedLimit = 64 * 1024
    var requestEnded = false

    /// Calls `worker` for `request` (read from `head`) with what the proxy supplies to handlers
    /// on this connection (`invocation`); `gate` hears once the client has the whole response.
    init(
        head: HTTPRequestHead, request: Request, worker: Worker, rule: String, context: ChannelHandlerContext,
        connection: ConnectionContext, invocation: WorkerInvocation, gate: RequestGate
    ) {
        self.head = head
        self.request = request
        self.worker = worker
        self.rule = rule
        self.context = context
        self.connection = connection
        self.invocation = invocation
        self.gate = gate
    }

    /// A timer callback that times the exchange out.
    private struct Timeout: NIOScheduledCallbackHandler, Sendable {
        let exchange: NIOLoopBound<HandlerExchange>

        func handleScheduledCallback(eventLoop: some EventLoop) {
            exchange.value.timedOut()
        }
    }

    func start() {
        let exchange = NIOLoopBound(self, eventLoop: context.eventLoop)
        let (worker, request, invocation) = (self.worker, self.request, self.invocation)
        // The task prefers the executor of the connection's event loop: it starts there and
        // comes back there after every suspension, so it may use the exchange directly.
        task = Task(executorPreference: connection.executor) {
            // Queued behind this task's first slice: a handler that answers without suspending
            // is done before the timer would be armed.
            exchange.value.context.eventLoop.execute {
                exchange.value.arm(Timeout(exchange: exchange))
            }
            let result: Result<Response, any Error>
            do {
                result = .success(try await worker.handle(request, invocation))
            } catch {
                result = .failure(error)
            }
            await exchange.value.handled(result)
        }
    }

    func clientWritable() {}

    func clientGone() {
        guard !done else { return }
        done = true
        task?.cancel()
        timer?.cancel()
        // Once answering, the write logs the line; before that, nobody would.
        if !answered { log(status: 0, bytes: 0, error: "the client went away before the handler answered") }
    }

    private func arm(_ timeout: Timeout) {
        guard !answered, !done else { return }
        timer = try? context.eventLoop.scheduleCallback(in: TimeAmount(worker.timeout), handler: timeout)
    }

    /// The handler returned or threw: its answer, unless the timeout came first.
    private func handled(_ result: Result<Response, any Error>) async {
        guard answer() else { return }
        switch result {
        case .success(let response):
            await write(response)
        case .failure(let error):
            await write(WorkerInvoker.failed(worker, error, connection: connection))
        }
    }

    /// Claims the right to answer; false if the timeout (or the client's leaving) came first.
    private func answer() -> Bool {
        guard !answered, !done else { return false }
        answered = true
        timer?.cancel()
        return true
    }

    private func timedOut() {
        guard answer() else { return }
        task?.cancel()
        let response = WorkerInvoker.timedOut(worker, connection: connection)
        let exchange = NIOLoopBound(self, eventLoop: context.eventLoop)
        Task(executorPreference: connection.executor) {
            await exchange.value.write(response)
        }
    }

    /// Writes `response` to the client (a body of known length in one flush, a streamed one as
    /// its chunks come), logs the decision and hands the connection back.
    private func write(_ response: Response) async {
        var responseHead = HTTPConversion.clientHead(response.head, version: head.version, knownLength: response.body.knownLength)
        if !head.isKeepAlive { responseHead.headers.replaceOrAdd(name: "Connection", value: "close") }
        let context = self.context
        context.write(NIOAny(HTTPServerResponsePart.head(responseHead)), promise: nil)
        var sent = 0
        var failure: String?
        do {
            // A streamed body's writes are flushed when this task next waits (for a chunk that
            // has not come yet), not one by one: a small response that is all there is one TLS
            // record and one write, however many parts it has. Every `unflushedLimit` bytes
            // (and whenever the channel is past its high water mark) the task flushes and waits
            // for the write: a body whose chunks never make it wait (an array's, say) cannot
            // pile up unflushed, which behind TLS the channel's writability would not show.
            let streamed = response.body.knownLength == nil
            if streamed { flushWhenWaiting() }
            var unflushed = 0
            for try await chunk in response.body {
                if done { break }
                // A response to HEAD carries no body (the encoder refuses one): the handler's
                // chunks are read and dropped, so it is not left waiting.
                guard head.method != .HEAD else { continue }
                sent += chunk.readableBytes
                unflushed += chunk.readableBytes
                let part = NIOAny(HTTPServerResponsePart.body(.byteBuffer(chunk)))
                if streamed, unflushed >= Self.unflushedLimit || !context.channel.isWritable {
                    unflushed = 0
                    try await context.writeAndFlush(part).get()
                } else {
                    context.write(part, promise: nil)
                    if streamed { flushWhenWaiting() }
                }
            }
            if done { failure = "the client went away during the response" }
            RequestGate.endResponse(context, closing: !head.isKeepAlive, gate: gate)
        } catch {
            failure = "\(error)"
            context.close(promise: nil)
        }
        log(status: responseHead.status.code, bytes: sent, error: failure)
        done = true
        gate?.served(requestEnded: requestEnded, context: context)
    }

    /// Flushes the channel once the event loop gets to it: after this task's current slice, when
    /// it waits for the next chunk or is done. One flush is pending at a time.
    private func flushWhenWaiting() {
        guard !flushPending else { return }
        flushPending = true
        let exchange = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.execute {
            exchange.value.flushPending = false
            exchange.value.context.flush()
        }
    }

    private func log(status: UInt, bytes: Int, error: String?) {
        RequestLogLine(
            method: head.method.rawValue, url: .init(scheme: connection.scheme, authority: request.head.authority, path: request.head.path ?? "/"),
            rule: rule, action: .handler(worker.name),
            status: status, bytes: bytes, started: started, error: error
        ).log(to: connection.logger)
    }
}
