import EgressLinux
import EgressProxy
import NIOCore
import NIOPosix
import Workers

/// A TCP port of a running container (`getTcpPort(port)`), reached through sockets made inside
/// the container's network namespace: its loopback, with no address or link on the host.
public struct ContainerTCPPort: Sendable {
    let container: Container
    /// The port inside the container.
    public let port: UInt16
    let group: any EventLoopGroup

    /// Sends `request` to the port over HTTP/1.1 (a new connection, closed after the exchange)
    /// and returns the response once its head arrived; the body streams. The request's URL
    /// authority is sent as `Host`.
    public func fetch(_ request: Request) async throws -> Response {
        let socket = try await connectedSocket()
        return try await UpstreamClient.send(
            request, overConnectedSocket: socket, group: group,
            target: UpstreamTarget(host: "container \(container.id)", port: Int(port))
        )
    }

    /// A raw byte stream to the port. The caller owns the channel and closes it (for example
    /// with `executeThenClose`).
    public func connect() async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        let socket = try await connectedSocket()
        return try await ClientBootstrap(group: group).withConnectedSocket(socket) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
    }

    /// A socket made inside the container and connected to `127.0.0.1:port` there, or to
    /// `[::1]:port` when nothing listens on the IPv4 one.
    private func connectedSocket() async throws -> CInt {
        // A descriptor of its own: the container may end meanwhile, and the number of the one its
        // init holds be reused for another file.
        guard let descriptor = container.duplicateNetworkNamespace() else { throw ContainerError.notRunning }
        defer { close(descriptor) }
        let namespace = "/proc/self/fd/\(descriptor)"
        let port = self.port
        do {
            return try await onOwnThread {
                do {
                    return try NetworkNamespaceSockets.connect(inNetworkNamespace: namespace, to: .loopbackV4, port: port)
                } catch let error as LinuxError where error.code == ECONNREFUSED {
                    return try NetworkNamespaceSockets.connect(inNetworkNamespace: namespace, to: .loopbackV6, port: port)
                }
            }
        } catch let error as LinuxError {
            throw ContainerError.system("cannot connect to port \(port) of the container: \(error)")
        }
    }
}
