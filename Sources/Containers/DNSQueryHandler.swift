import EgressRules
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
                // A decision like any other: one line per query in the decision log.
                self.logger.info("dns", metadata: Self.decision(query.question, answer))
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

    /// The decision-log fields of an answer: `name`, `type` (A, AAAA or the number), `code`, and
    /// the addresses sent as `answer`.
    private static func decision(_ question: DNSQuestion, _ answer: DNSAnswer) -> Logger.Metadata {
        let type: String, addresses: [String]
        switch question.type {
        case DNSRecordType.a:
            type = "A"
            addresses = answer.addresses.ipv4.map { IPAddress.v4($0).description }
        case DNSRecordType.aaaa:
            type = "AAAA"
            addresses = answer.addresses.ipv6.map { IPAddress.v6($0).description }
        default:
            (type, addresses) = ("\(question.type)", [])
        }
        var fields: Logger.Metadata = ["name": "\(question.name.text)", "type": "\(type)", "code": "\(answer.responseCode)"]
        if answer.responseCode == .noError { fields["answer"] = .string(addresses.isEmpty ? "-" : addresses.joined(separator: ",")) }
        return fields
    }
}
