import NIOCore
import NIOTLS

/// A NIO channel handler that runs TLS over OpenSSL: ciphertext on the network side,
/// plaintext on the application side.
///
/// Put it first in the pipeline of a TCP channel, or add it later to an active channel (the
/// client then starts its handshake at once; a server takes whatever bytes are fired into it
/// next as the start of the ClientHello, so a sniffer can re-fire the bytes it peeked).
///
/// Events and errors:
/// - `TLSUserEvent.handshakeCompleted(negotiatedProtocol:)` when the handshake succeeds; then
///   ``handshakeResult`` holds the details.
/// - a ``TLSError`` through `errorCaught` when the handshake or the connection fails; the
///   handler then closes the channel itself. ``TLSError/uncleanShutdown`` when the peer closes
///   the TCP connection, or half-closes it, after the handshake without close_notify (unless
///   this side has half-closed its output: then that is the peer's ordinary end).
/// - when the peer sends close_notify: if the channel allows remote half-closure
///   (`ChannelOptions.allowRemoteHalfClosure`), `ChannelEvent.inputClosed`, and writes still
///   work until the channel is closed; otherwise close_notify is answered, then
///   `TLSUserEvent.shutdownCompleted` fires and the channel closes.
///
/// Writes wait until the handshake completes; each `flush` encrypts the waiting writes into
/// one network write. Closing (`close(mode: .all)`) sends close_notify, flushes it, then
/// closes. Half-closing the output (`.output`) once TLS runs sends the flushed writes and
/// close_notify, then shuts the TCP output; plaintext keeps coming in until the peer ends its
/// side: its close_notify fires `TLSUserEvent.shutdownCompleted` and closes the channel once
/// ours is out, and a socket channel closes by itself when the peer's TCP input ends.
/// Plaintext is produced only from ciphertext the channel read, so reading follows NIO's
/// `read()` / autoRead flow; reads the handshake needs are issued by the handler itself.
public final class TLSHandler: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private enum State {
        /// Before the handshake: a client not yet active, or a server that has had no bytes.
        case idle
        case handshaking
        case active
        /// The peer sent close_notify and the channel allows half-closure: writes only.
        case inputClosed
        /// This side sent close_notify and shut its TCP output: reads only.
        case outputClosed
        /// Closing: close_notify or an alert is on its way, the channel close follows.
        case closing
        case closed

        /// Whether ciphertext that comes in is decrypted for the application.
        var readsPlaintext: Bool { self == .active || self == .outputClosed }
    }

    private let connection: TLSConnection
    private let isClient: Bool
    private var state = State.idle
    private var pendingWrites = TLSPendingWrites()
    /// The application asked for a read and has not yet been given plaintext for it.
    private var applicationReadPending = false
    /// Completes once the close_notify of an output half-close is out.
    private var closeNotifySent: EventLoopFuture<Void>?

    /// What the handshake negotiated; `nil` until `TLSUserEvent.handshakeCompleted` fires.
    public private(set) var handshakeResult: TLSHandshakeResult?

    /// The bytes the connection's network buffers hold on to (for tests of idle memory).
    var networkBufferCapacity: Int {
        connection.bufferCapacity
    }

    /// A handler for one connection, with its own `SSL` made from `context`.
    ///
    /// - Throws: ``TLSError/configuration(_:)`` if OpenSSL cannot make the `SSL` or rejects the
    ///   client's server hostname (e.g. a name longer than 255 bytes).
    public init(context: TLSContext, role: TLSRole) throws(TLSError) {
        connection = try TLSConnection(context: context, role: role)
        isClient = if case .client = role { true } else { false }
    }

    // MARK: lifecycle

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { start(context: context) }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        failPendingWrites(ChannelError.ioOnClosedChannel)
    }

    public func channelActive(context: ChannelHandlerContext) {
        start(context: context)
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        let previous = state
        state = .closed
        failPendingWrites(ChannelError.ioOnClosedChannel)
        switch previous {
        case .handshaking:
            context.fireErrorCaught(TLSError.handshakeFailed("the connection closed during the handshake"))
        case .active:
            context.fireErrorCaught(TLSError.uncleanShutdown)
        case .idle, .inputClosed, .outputClosed, .closing, .closed:
            break
        }
        context.fireChannelInactive()
    }

    /// A TCP half-close from the peer (seen when the channel allows remote half-closure) is
    /// the end of the TLS input only after close_notify; before it, it is a truncation.
    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case .some(.inputClosed) = event as? ChannelEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        switch state {
        case .idle:
            state = .closed
            context.close(promise: nil)
        case .handshaking:
            fail(context: context, error: .handshakeFailed("the connection closed during the handshake"))
        case .active:
            fail(context: context, error: .uncleanShutdown)
        case .outputClosed:
            // After this side's close_notify, a peer that just closes its end is done, not
            // truncating what it sent. (A socket channel closes fully here, without this event.)
            context.fireUserInboundEventTriggered(event)
        case .inputClosed, .closing, .closed:
            // ChannelEvent.inputClosed already went up after close_notify, or nothing is listening.
            break
        }
    }

    /// Clients start the handshake as soon as the channel is active; servers wait for bytes.
    private func start(context: ChannelHandlerContext) {
        guard isClient, case .idle = state else { return }
        state = .handshaking
        advance(context: context)
    }

    // MARK: inbound

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var ciphertext = unwrapInboundIn(data)
        switch state {
        case .idle:
            state = .handshaking
        case .handshaking, .active, .outputClosed:
            break
        case .inputClosed, .closing, .closed:
            return
        }
        guard connection.receive(&ciphertext) else {
            fail(context: context, error: .connectionFailed("cannot buffer received ciphertext"))
            return
        }
        advance(context: context)
        connection.releaseIdleBuffers()
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        // A read that brought only post-handshake messages (tickets, key updates) or part of a
        // record gave the application nothing; ask for more on its behalf.
        if applicationReadPending, state.readsPlaintext {
            context.read()
        }
        context.fireChannelReadComplete()
    }

    /// Runs the handshake if it is still going, then decrypts whatever plaintext is ready.
    private func advance(context: ChannelHandlerContext) {
        if case .handshaking = state {
            stepHandshake(context: context)
        }
        if state.readsPlaintext {
            readPlaintext(context: context)
        }
        if case .active = state, pendingWrites.flushedCount > 0 {
            // Writes that were waiting for OpenSSL to read may go on now.
            encryptFlushedWrites(context: context)
        }
    }

    private func stepHandshake(context: ChannelHandlerContext) {
        switch connection.handshake() {
        case .done:
            state = .active
            let result = connection.handshakeResult
            handshakeResult = result
            sendOutput(context: context)
            if pendingWrites.flushedCount > 0 {
                encryptFlushedWrites(context: context)
            }
            context.fireUserInboundEventTriggered(TLSUserEvent.handshakeCompleted(negotiatedProtocol: result.negotiatedProtocol))
        case .wantsMoreData, .closeNotify:
            sendOutput(context: context)
            // The handshake needs the peer's answer whether or not the application is reading.
            context.read()
        case .failed(let error):
            fail(context: context, error: error)
        }
    }

    private func readPlaintext(context: ChannelHandlerContext) {
        reading: while state.readsPlaintext, connection.hasBufferedInput {
            var plaintext = context.channel.allocator.buffer(capacity: connection.plaintextBound)
            switch connection.read(into: &plaintext) {
            case .done:
                applicationReadPending = false
                context.fireChannelRead(wrapInboundOut(plaintext))
            case .wantsMoreData:
                // Only part of a record has arrived.
                break reading
            case .closeNotify:
                receivedCloseNotify(context: context)
            case .failed(let error):
                fail(context: context, error: error)
            }
        }
        // Reading can produce output: a key update's answer, an alert.
        if case .active = state {
            sendOutput(context: context)
        }
    }

    private func receivedCloseNotify(context: ChannelHandlerContext) {
        if case .outputClosed = state {
            // Both sides have said close_notify: the connection is over once ours is out.
            state = .closing
            context.fireUserInboundEventTriggered(TLSUserEvent.shutdownCompleted)
            let closeNotifySent = self.closeNotifySent ?? context.eventLoop.makeSucceededVoidFuture()
            closeNotifySent.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            return
        }
        let halfClosureAllowed = (try? context.channel.syncOptions?.getOption(ChannelOptions.allowRemoteHalfClosure)) ?? false
        if halfClosureAllowed {
            state = .inputClosed
            context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        } else {
            failPendingWrites(ChannelError.outputClosed)
            closeWithCloseNotify(context: context, promise: nil)
        }
    }

    // MARK: outbound

    public func read(context: ChannelHandlerContext) {
        applicationReadPending = true
        context.read()
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch state {
        case .idle, .handshaking, .active, .inputClosed:
            pendingWrites.append(unwrapOutboundIn(data), promise: promise)
        case .outputClosed:
            promise?.fail(ChannelError.outputClosed)
        case .closing, .closed:
            promise?.fail(ChannelError.ioOnClosedChannel)
        }
    }

    public func flush(context: ChannelHandlerContext) {
        pendingWrites.flushAll()
        switch state {
        case .active, .inputClosed:
            encryptFlushedWrites(context: context)
        case .idle, .handshaking, .outputClosed, .closing, .closed:
            break
        }
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        switch (mode, state) {
        case (.all, .active), (.all, .inputClosed):
            failPendingWrites(ChannelError.ioOnClosedChannel)
            closeWithCloseNotify(context: context, promise: promise)
        case (.all, .closing), (.output, .closing):
            // Our close_notify is on its way and the close follows it.
            context.channel.closeFuture.cascade(to: promise)
        case (.all, .idle), (.all, .handshaking), (.all, .outputClosed), (.all, .closed):
            state = .closed
            failPendingWrites(ChannelError.ioOnClosedChannel)
            context.close(mode: mode, promise: promise)
        case (.output, .active), (.output, .inputClosed):
            closeOutputWithCloseNotify(context: context, promise: promise)
        case (.output, .outputClosed):
            promise?.fail(ChannelError.outputClosed)
        case (.output, _), (.input, _):
            context.close(mode: mode, promise: promise)
        }
    }

    /// Encrypts the flushed writes into one network write and flushes it. The first write's
    /// promise stands for the network write; the others are chained to it, in order.
    private func encryptFlushedWrites(context: ChannelHandlerContext) {
        let plaintextBytes = pendingWrites.coalesceFlushed(allocator: context.channel.allocator)
        var ciphertext = context.channel.allocator.buffer(capacity: TLSConnection.ciphertextSize(forPlaintext: plaintextBytes))
        var promise: EventLoopPromise<Void>?
        encrypting: while var write = pendingWrites.firstFlushed {
            let (written, step) = write.data.withUnsafeReadableBytes { connection.write($0, output: &ciphertext) }
            switch step {
            case .done:
                pendingWrites.removeFirstFlushed()
                TLSPendingWrites.chain(write.promise, to: &promise)
            case .wantsMoreData, .closeNotify:
                // OpenSSL wants to read first. Not expected (renegotiation is off and the output
                // is a memory BIO), but if it happens the rest of this write stays first in line,
                // still flushed, and ``advance(context:)`` retries it once the peer's bytes come.
                write.data.moveReaderIndex(forwardBy: written)
                pendingWrites.replaceFirst(with: write)
                break encrypting
            case .failed(let error):
                context.write(wrapOutboundOut(ciphertext), promise: nil)
                promise?.fail(error)
                fail(context: context, error: error)
                return
            }
        }
        if ciphertext.readableBytes > 0 || promise != nil {
            context.writeAndFlush(wrapOutboundOut(ciphertext), promise: promise)
        }
        connection.releaseIdleBuffers()
    }

    /// Writes and flushes whatever ciphertext OpenSSL has produced (handshake messages, alerts,
    /// tickets, key updates).
    private func sendOutput(context: ChannelHandlerContext) {
        guard connection.hasOutput else {
            return
        }
        var ciphertext = context.channel.allocator.buffer(capacity: 0)
        connection.drainOutput(into: &ciphertext)
        context.writeAndFlush(wrapOutboundOut(ciphertext), promise: nil)
    }

    // MARK: closing

    /// Sends close_notify, then closes the channel once it has been written.
    private func closeWithCloseNotify(context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        let peerAlreadyClosed = state == .inputClosed || connection.receivedCloseNotify
        state = .closing
        let sent = sendCloseNotify(context: context)
        if peerAlreadyClosed {
            context.fireUserInboundEventTriggered(TLSUserEvent.shutdownCompleted)
        }
        sent.whenComplete { _ in context.close(promise: promise) }
    }

    /// Sends what was written and flushed, then close_notify, then shuts the TCP output once they
    /// are out (closes the channel, if the peer's input had ended already); writes not yet
    /// encrypted fail.
    private func closeOutputWithCloseNotify(context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        let inputClosed = state == .inputClosed
        if pendingWrites.flushedCount > 0 { encryptFlushedWrites(context: context) }
        guard state == .active || state == .inputClosed else {
            // Encrypting failed, and the channel is closing.
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        state = inputClosed ? .closing : .outputClosed
        failPendingWrites(ChannelError.outputClosed)
        let sent = sendCloseNotify(context: context)
        if inputClosed {
            context.fireUserInboundEventTriggered(TLSUserEvent.shutdownCompleted)
        }
        closeNotifySent = sent.nonisolated()
        sent.whenComplete { _ in context.close(mode: inputClosed ? .all : .output, promise: promise) }
    }

    /// Writes and flushes close_notify; the future completes once it is out (or failed to go).
    private func sendCloseNotify(context: ChannelHandlerContext) -> EventLoopFuture<Void>.Isolated {
        connection.shutdown()
        var ciphertext = context.channel.allocator.buffer(capacity: 0)
        connection.drainOutput(into: &ciphertext)
        return context.writeAndFlush(wrapOutboundOut(ciphertext)).assumeIsolated()
    }

    /// Fails every waiting write with `error` (their callbacks may write or close again).
    private func failPendingWrites(_ error: any Error) {
        for write in pendingWrites.removeAll() {
            write.promise?.fail(error)
        }
    }

    /// Reports `error`, sends any alert OpenSSL queued for the peer, and closes the channel.
    private func fail(context: ChannelHandlerContext, error: TLSError) {
        state = .closing
        failPendingWrites(error)
        sendOutput(context: context)
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension TLSHandler: Sendable {}
