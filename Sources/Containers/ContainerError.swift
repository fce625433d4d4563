/// Why a container call failed, or how a container ended (the error ``Container/monitor()``
/// throws).
public enum ContainerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `start` was called while the container runs.
    case alreadyRunning
    /// A call that needs a running container (`signal`, `getTcpPort`) found none.
    case notRunning
    /// Options were refused (start options, a container id, the host's configuration); the text
    /// says why.
    case invalidOptions(String)
    /// A signal number outside 1...64.
    case invalidSignal(Int32)
    /// The entrypoint could not be started (not found, not executable, ...); nothing runs.
    case startFailed(String)
    /// The entrypoint exited with a non-zero code.
    case exited(code: Int32)
    /// The entrypoint was ended by a signal.
    case signalled(Int32)
    /// `destroy(reason)` ended the container with this reason.
    case destroyed(reason: String)
    /// Setting up or tearing down the container's namespaces failed.
    case system(String)

    public var description: String {
        switch self {
        case .alreadyRunning: "the container is already running"
        case .notRunning: "the container is not running"
        case .invalidOptions(let reason): "invalid options: \(reason)"
        case .invalidSignal(let number): "signal \(number) is not in 1...64"
        case .startFailed(let reason): "the entrypoint could not be started: \(reason)"
        case .exited(let code): "the container exited with code \(code)"
        case .signalled(let number): "the container was ended by signal \(number)"
        case .destroyed(let reason): "the container was destroyed: \(reason)"
        case .system(let reason): "container set-up failed: \(reason)"
        }
    }
}
