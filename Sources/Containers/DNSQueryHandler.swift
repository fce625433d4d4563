import Logging
import NIOCore

/// Serves DNS queries arriving on a UDP channel: reads each datagram, answers it according to a
/// ``ContainerDNSPolicy`` and sends the response back to the address the query came from.
///
/// Queries are answered concurrently: each one is resolved in a task of its own and its response
/// written when it is ready, so a slow host lookup holds up nothing else. At most `maxInFlight`
/// queries are resolved at once; queries beyond that are dropped (the client retries), which keeps
/// a flood from growing memory or the lookup queue without bound. Malformed queries get FORMERR
/// at once; datagrams shorter than a header, and responses, are dropped.
final class DNSQueryHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    /// The default bound on queries being resolved at once, per socket.
    static let defaultMaxInFlight = 256

    private let policy: ContainerDNSPolicy
    private let resolver: any HostNameResolver
    private let logger: Logger
    private let maxInFlight: Int
    private var inFlight = 0

    init(policy: ContainerDNSPolicy, resolver: any HostNameResolver, logger: Logger, maxInFlight: Int = defaultMaxInFlight) {
        self.policy = policy
        self.resolver = resolver
        self.logger = logger
        self.maxInFlight = maxInFlight
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let client = envelope.remoteAddress
        switch DNSQuery.parse(envelope.data) {
        case .drop(let reason):
            logger.debug("DNS datagram dropped", metadata: ["client": "\(client)", "reason": "\(reason)"])
        case .error(let code, let header, let reason):
            logger.debug("DNS query refused", metadata: ["client": "\(client)", "code": "\(code)", "reason": "\(reason)"])
            reply(DNSResponse.error(code, replyingTo: header, allocator: context.channel.allocator), to: client, context: context)
        case .query(let query):
            guard inFlight < maxInFlight else {
                logger.debug("DNS query dropped: too many in flight", metadata: ["client": "\(client)", "limit": "\(maxInFlight)"])
                return
            }
            inFlight += 1
            let promise = context.eventLoop.makePromise(of: DNSAnswer.self)
            promise.completeWithTask { [policy, resolver] in
                await policy.answer(query.question, resolver: resolver)
            }
            promise.futureResult.assumeIsolated().whenComplete { result in
                self.inFlight -= 1
                let answer = (try? result.get()) ?? DNSAnswer(.serverFailure)
                self.logger.debug(
                    "DNS query answered",
                    metadata: [
                        "name": "\(query.question.name.text)", "type": "\(query.question.type)", "code": "\(answer.responseCode)",
                        "ipv4": "\(answer.addresses.ipv4.count)", "ipv6": "\(answer.addresses.ipv6.count)",
                    ]
                )
                self.reply(DNSResponse.encode(answer, to: query, allocator: context.channel.allocator), to: client, context: context)
            }
        }
    }

    /// Send errors (the client went away, the channel closed) are not worth more than a log line.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("DNS socket error", metadata: ["error": "\(error)"])
    }

    private func reply(_ response: ByteBuffer, to client: SocketAddress, context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: client, data: response)), promise: nil)
    }
}
