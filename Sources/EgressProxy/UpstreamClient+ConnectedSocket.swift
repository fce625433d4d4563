import NIOCore
import NIOPosix
import Workers

extension UpstreamClient {
    /// Sends `request` over `socket`, a TCP socket connected elsewhere (inside a container's
    /// network namespace, say), and returns the response once its head arrived. The connection
    /// is not pooled: it carries `Connection: close` and ends with the exchange. `target` names
    /// the peer in errors. The socket is owned by the call.
    package static func send(
        _ request: Request, overConnectedSocket socket: CInt, group: any EventLoopGroup, target: UpstreamTarget
    ) async throws -> Response {
        let channel = try await ClientBootstrap(group: group).withConnectedSocket(socket) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHTTPClientHandlers()
                return try UpstreamConnection.Channel(wrappingChannelSynchronously: channel)
            }
        }
        return try await UpstreamConnection(target: target, channel: channel, idle: nil).send(request)
    }
}
