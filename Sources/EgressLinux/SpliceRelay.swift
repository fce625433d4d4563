import CEgressLinux
import Glibc

/// Relays pass-through connections with `splice(2)`: bytes move between the client and upstream
/// sockets through a pipe per direction, inside the kernel, never copied into user space.
///
/// One engine thread (`egress-splice`; epoll, edge-triggered) serves every pair handed to it; ``relay(client:upstream:initialUpstreamBytes:completion:)``
/// may be called from any thread. An end of stream one way is passed on as
/// `shutdown(SHUT_WR)` the other way (half-close), and a pair ends when both directions have; a
/// reset or another error on either socket closes both, the other with a reset. Memory is bounded
/// by two pipes of ``pipeSize`` bytes per pair.
public final class SpliceRelay: Sendable {
    /// The pipe size used when none is given: 256 KiB per direction.
    public static let defaultPipeSize = 256 * 1024

    /// The engine; only ever passed to the engine's thread-safe functions.
    private nonisolated(unsafe) let engine: OpaquePointer

    /// Starts the engine thread.
    ///
    /// - Parameter pipeSize: bytes each direction's pipe holds (the kernel rounds up to a power
    ///   of two pages; at most 1 MiB).
    /// - Throws: ``LinuxError`` when the pipe size cannot be had or the thread cannot start.
    public init(pipeSize: Int = SpliceRelay.defaultPipeSize) throws {
        guard pipeSize >= 0 else { throw LinuxError(operation: "F_SETPIPE_SZ", code: EINVAL) }
        var engine: OpaquePointer?
        try LinuxError.check(egress_relay_engine_create(pipeSize, &engine))
        guard let engine else { throw LinuxError(operation: "egress_relay_engine_create", code: EIO) }
        self.engine = engine
    }

    deinit {
        egress_relay_engine_destroy(engine)
    }

    /// The capacity of each pipe, in bytes.
    public var pipeSize: Int {
        egress_relay_engine_pipe_size(engine)
    }

    /// Hands two connected TCP sockets to the engine, which relays between them until both
    /// directions end, then closes both and calls `completion`.
    ///
    /// `initialUpstreamBytes` (for example a ClientHello the proxy already read while sniffing)
    /// are sent to upstream before anything else from the client. The sockets are made
    /// non-blocking.
    ///
    /// - Parameters:
    ///   - client: the accepted connection from the container.
    ///   - upstream: the connection to the original destination.
    ///   - completion: called exactly once, on the engine thread, after both sockets were closed.
    ///     It must not block: every pair waits meanwhile.
    /// - Throws: ``LinuxError`` (`ESHUTDOWN` after ``shutdown()``, `EBADF` for a bad descriptor,
    ///   `EMFILE` when the pipes cannot be made). Then nothing happened: the caller still owns
    ///   both sockets and `completion` is never called.
    public func relay(
        client: CInt,
        upstream: CInt,
        initialUpstreamBytes: [UInt8] = [],
        completion: @escaping @Sendable (RelayResult) -> Void
    ) throws {
        let context = Unmanaged.passRetained(Completion(completion)).toOpaque()
        let added = initialUpstreamBytes.withUnsafeBufferPointer { initial in
            egress_relay_engine_add(engine, client, upstream, initial.baseAddress, initial.count, { context, result in
                guard let context, let result else { return }
                Unmanaged<Completion>.fromOpaque(context).takeRetainedValue().call(RelayResult(result.pointee))
            }, context)
        }
        if let failure = LinuxError(added) {
            Unmanaged<Completion>.fromOpaque(context).release()
            throw failure
        }
    }

    /// Stops the engine: pairs still relaying are closed and reported ``RelayResult/Outcome/cancelled``,
    /// and later ``relay(client:upstream:initialUpstreamBytes:completion:)`` calls throw
    /// `ESHUTDOWN`. Returns once every completion has run, except when called from a completion,
    /// where the remaining ones run after it returns. Idempotent.
    public func shutdown() {
        egress_relay_engine_stop(engine)
    }
}

/// How one relayed connection ended, reported once by ``SpliceRelay``.
public struct RelayResult: Sendable, Hashable, CustomStringConvertible {
    /// Why the relay of a pair ended.
    public enum Outcome: Sendable, Hashable {
        /// Both directions reached end of stream and every byte was delivered.
        case completed
        /// A socket failed (a reset, a broken pipe); both were closed, the other with a reset.
        case failed(LinuxError)
        /// The relay shut down while the pair was relaying; both sockets were closed.
        case cancelled
    }

    /// Why it ended.
    public let outcome: Outcome
    /// Bytes written to the upstream socket, the initial bytes included.
    public let bytesToUpstream: UInt64
    /// Bytes written to the client socket.
    public let bytesToClient: UInt64
    /// From when the pair was handed over to when it ended.
    public let duration: Duration

    public var description: String {
        let ending = switch outcome {
        case .completed: "completed"
        case .failed(let error): "failed: \(error)"
        case .cancelled: "cancelled"
        }
        return "\(ending), \(bytesToUpstream) bytes to upstream, \(bytesToClient) bytes to client, \(duration)"
    }

    /// The result the engine reported.
    init(_ result: egress_relay_result) {
        switch result.outcome {
        case EGRESS_RELAY_COMPLETED:
            outcome = .completed
        case EGRESS_RELAY_CANCELLED:
            outcome = .cancelled
        default:
            outcome = .failed(LinuxError(result.error) ?? LinuxError(operation: "relay", code: EIO))
        }
        bytesToUpstream = result.bytes_to_upstream
        bytesToClient = result.bytes_to_client
        duration = .nanoseconds(Int64(clamping: result.duration_ns))
    }
}

/// A completion closure, retained across the C engine until it is called.
private final class Completion: Sendable {
    let call: @Sendable (RelayResult) -> Void

    init(_ call: @escaping @Sendable (RelayResult) -> Void) {
        self.call = call
    }
}
