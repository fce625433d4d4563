import NIOCore
import NIOHTTP1
import NIOPosix

/// The demo's "internal service" on 127.0.0.1: answers every request with what it received,
/// so the demo can show the secret that a `forward` rule added on the way.
struct DemoOrigin {
    let channel: any Channel

    /// Listens on 127.0.0.1 on a free port.
    static func start(group: any EventLoopGroup) async throws -> DemoOrigin {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(EchoHandler())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return DemoOrigin(channel: channel)
    }

    var port: Int { channel.localAddress?.port ?? 0 }

    func close() async {
        try? await channel.close()
    }

    /// Answers `internal service got: METHOD URI, authorization: ...`.
    private final class EchoHandler: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .head(let head) = unwrapInboundIn(data) else { return }
            let authorization = head.headers.first(name: "authorization") ?? "(none)"
            let body = ByteBuffer(string: "internal service got \(head.method) \(head.uri) with authorization: \(authorization)\n")
            var headers = HTTPHeaders([("content-type", "text/plain"), ("content-length", String(body.readableBytes))])
            if !head.isKeepAlive { headers.add(name: "connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
