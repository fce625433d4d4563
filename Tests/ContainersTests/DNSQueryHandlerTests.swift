import Logging
import NIOCore
import NIOEmbedded
import XCTest

@testable import Containers

final class DNSQueryHandlerTests: XCTestCase {
    private var client: SocketAddress {
        get throws { try SocketAddress(ipAddress: "127.0.0.1", port: 40_053) }
    }

    private func channel(resolver: TableResolver, maxInFlight: Int = DNSQueryHandler.defaultMaxInFlight) async throws -> NIOAsyncTestingChannel {
        let policy = ContainerDNSPolicy(isIntercepted: { $0 == "intercepted.test" }, internet: { true })
        return try await NIOAsyncTestingChannel { channel in
            try channel.pipeline.syncOperations.addHandler(
                DNSQueryHandler(policy: policy, resolver: resolver, logger: Logger(label: "dns-test"), maxInFlight: maxInFlight)
            )
        }
    }

    private func send(_ datagram: ByteBuffer, to channel: NIOAsyncTestingChannel) async throws {
        try await channel.writeInbound(AddressedEnvelope(remoteAddress: try client, data: datagram))
    }

    private func response(from channel: NIOAsyncTestingChannel) async throws -> DecodedResponse {
        let envelope = try await channel.waitForOutboundWrite(as: AddressedEnvelope<ByteBuffer>.self)
        XCTAssertEqual(envelope.remoteAddress, try client, "replies go to the sender")
        return try DecodedResponse(envelope.data)
    }

    func testAnswersAQueryToItsSender() async throws {
        let channel = try await channel(resolver: TableResolver(["example.test": .success(HostAddresses(ipv4: [0xC633_6401]))]))
        try await send(DNSWire.query("example.test", id: 1), to: channel)
        let response = try await response(from: channel)
        XCTAssertEqual(response.id, 1)
        XCTAssertEqual(response.answers.map(\.data), [[198, 51, 100, 1]])
        _ = try await channel.finish()
    }

    func testMalformedQueriesGetFormatErrorAndRunts() async throws {
        let channel = try await channel(resolver: TableResolver())
        try await send(ByteBuffer(bytes: [1, 2, 3]), to: channel)
        try await send(ByteBuffer(bytes: DNSWire.header(id: 9, questions: 2)), to: channel)
        let response = try await response(from: channel)
        XCTAssertEqual(response.id, 9)
        XCTAssertEqual(response.responseCode, DNSResponseCode.formatError.rawValue)
        let nothingMore = try await channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self)
        XCTAssertNil(nothingMore, "the 3-byte runt got no answer")
        _ = try await channel.finish()
    }

    func testASlowLookupDoesNotHoldUpOtherQueries() async throws {
        let resolver = TableResolver(["slow.test": .success(HostAddresses(ipv4: [0xC633_6402]))], gated: ["slow.test"])
        let channel = try await channel(resolver: resolver)
        try await send(DNSWire.query("slow.test", id: 1), to: channel)
        try await send(DNSWire.query("localhost", id: 2), to: channel)
        try await send(DNSWire.query("intercepted.test", id: 3), to: channel)
        var early = [try await response(from: channel).id, try await response(from: channel).id]
        early.sort()
        XCTAssertEqual(early, [2, 3])
        resolver.open()
        let late = try await response(from: channel)
        XCTAssertEqual(late.id, 1)
        XCTAssertEqual(late.answers.map(\.data), [[198, 51, 100, 2]])
        _ = try await channel.finish()
    }

    func testQueriesBeyondTheBoundAreDropped() async throws {
        let resolver = TableResolver(gated: ["slow.test"])
        let channel = try await channel(resolver: resolver, maxInFlight: 1)
        try await send(DNSWire.query("slow.test", id: 1), to: channel)
        try await send(DNSWire.query("localhost", id: 2), to: channel)
        resolver.open()
        let first = try await response(from: channel)
        XCTAssertEqual(first.id, 1)
        XCTAssertEqual(first.responseCode, DNSResponseCode.nameError.rawValue)
        try await send(DNSWire.query("localhost", id: 3), to: channel)
        let next = try await response(from: channel)
        XCTAssertEqual(next.id, 3, "query 2 was dropped while query 1 was in flight; query 3 is served")
        let nothingMore = try await channel.readOutbound(as: AddressedEnvelope<ByteBuffer>.self)
        XCTAssertNil(nothingMore)
        _ = try await channel.finish()
    }
}
