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
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try UpstreamExchangeHandler.install(on: channel.pipeline.syncOperations, target: target)
                }
            }
            .withConnectedSocket(socket).get()
        let connection = try await channel.eventLoop.submit {
            let handler = try channel.pipeline.syncOperations.handler(type: UpstreamExchangeHandler.self)
            return UpstreamConnection(target: target, channel: channel, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop), idle: nil)
        }.get()
        return try await connection.send(request)
    }
}
