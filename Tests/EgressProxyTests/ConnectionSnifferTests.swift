@testable import EgressProxy
import NIOCore
import NIOEmbedded
import Testing

/// What a sniffer reported, and the handles its verdict gave for ``ConnectionSniffer/release(_:)``.
private final class SnifferVerdicts {
    var found: [SniffedProtocol] = []
    var context: ChannelHandlerContext?
    var sniffer: ConnectionSniffer?
    /// Release inside the verdict itself, as the HTTP handoff does.
    var releaseAtOnce = false

    func record(_ protocol: SniffedProtocol, _ context: ChannelHandlerContext, _ sniffer: ConnectionSniffer) {
        found.append(`protocol`)
        self.context = context
        self.sniffer = sniffer
        if releaseAtOnce { sniffer.release(context) }
    }

    func release() throws {
        let sniffer = try #require(sniffer), context = try #require(context)
        sniffer.release(context)
    }
}

/// The sniffer in an `EmbeddedChannel`: bytes in, verdicts and released bytes out, its timer on
/// the embedded clock.
private final class SniffedChannel {
    let channel = EmbeddedChannel()
    let verdicts = SnifferVerdicts()

    init(limits: ProxyLimits = ProxyLimits(), active: Bool = true, releaseAtOnce: Bool = false) throws {
        verdicts.releaseAtOnce = releaseAtOnce
        if active { channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 4000), promise: nil) }
        let verdicts = self.verdicts
        try channel.pipeline.syncOperations.addHandler(ConnectionSniffer(limits: limits) { found, context, sniffer in
            verdicts.record(found, context, sniffer)
        })
    }

    func write(_ text: String) throws {
        try channel.writeInbound(ByteBuffer(string: text))
    }

    func write(_ bytes: ByteBuffer) throws {
        try channel.writeInbound(bytes)
    }

    /// Every byte that reached the handlers after the sniffer, in order.
    func passedOn() throws -> [UInt8] {
        var bytes: [UInt8] = []
        while let chunk = try channel.readInbound(as: ByteBuffer.self) {
            bytes += chunk.readableBytesView
        }
        return bytes
    }

    var snifferIsInPipeline: Bool {
        (try? channel.pipeline.syncOperations.handler(type: ConnectionSniffer.self)) != nil
    }

    func finish() throws {
        _ = try channel.finish(acceptAlreadyClosed: true)
    }

    deinit {
        // Also on a failed test: an open EmbeddedChannel asserts when it goes away.
        _ = try? channel.finish(acceptAlreadyClosed: true)
    }
}

@Suite struct ConnectionSnifferTests {
    @Test func requestInOneReadIsHTTPAndEveryByteIsReleasedInOrder() throws {
        let sniffed = try SniffedChannel()
        let request = "GET /a HTTP/1.1\r\nHost: one.example\r\n\r\n"
        try sniffed.write(request)
        #expect(sniffed.verdicts.found == [.http])
        #expect(try sniffed.passedOn().isEmpty, "bytes are held until release")

        // Bytes that arrive after the verdict and before the release are held too, then passed on.
        let pipelined = "GET /b HTTP/1.1\r\nHost: one.example\r\n\r\n"
        try sniffed.write(pipelined)
        try sniffed.write("POST /c")
        #expect(sniffed.verdicts.found == [.http], "one verdict only")
        #expect(try sniffed.passedOn().isEmpty)

        try sniffed.verdicts.release()
        #expect(try sniffed.passedOn() == Array((request + pipelined + "POST /c").utf8))
        #expect(!sniffed.snifferIsInPipeline)

        // Gone: later bytes go straight through, untouched.
        try sniffed.write(" HTTP/1.1\r\n")
        #expect(try sniffed.passedOn() == Array(" HTTP/1.1\r\n".utf8))
        #expect(sniffed.verdicts.found == [.http])
        try sniffed.finish()
    }

    @Test func requestLineSplitAcrossReadsIsHTTPOnceItsMethodEnds() throws {
        let sniffed = try SniffedChannel(releaseAtOnce: true)
        try sniffed.write("G")
        try sniffed.write("E")
        try sniffed.write("T")
        #expect(sniffed.verdicts.found.isEmpty, "GET alone could still be anything")
        #expect(sniffed.snifferIsInPipeline)
        try sniffed.write(" /x HTTP/1.1\r\n")
        #expect(sniffed.verdicts.found == [.http])
        // Released from inside the verdict (as the HTTP handoff does): all four reads, in order.
        #expect(try sniffed.passedOn() == Array("GET /x HTTP/1.1\r\n".utf8))
        #expect(!sniffed.snifferIsInPipeline)
        try sniffed.write("\r\n")
        #expect(try sniffed.passedOn() == Array("\r\n".utf8))
        try sniffed.finish()
    }

    @Test func clientHelloSplitAcrossReadsIsTLSWithItsServerName() throws {
        let sniffed = try SniffedChannel()
        let records = ClientHelloBuilder(serverName: "Split.Example", extraExtensionBytes: 900, recordSize: 400).records()
        let all = Array(records.readableBytesView)
        #expect(all.count > 1000, "the hello spans several records")
        var offset = 0
        while offset < all.count {
            let piece = Array(all[offset..<min(offset + 97, all.count)])
            #expect(sniffed.verdicts.found.isEmpty, "no verdict before byte \(offset)")
            try sniffed.write(ByteBuffer(bytes: piece))
            offset += piece.count
        }
        #expect(sniffed.verdicts.found == [.tls(ClientHello(serverName: "split.example", applicationProtocols: ["h2", "http/1.1"]))])
        #expect(try sniffed.passedOn().isEmpty)
        try sniffed.verdicts.release()
        #expect(try sniffed.passedOn() == all, "the TLS handler gets the ClientHello byte for byte")
        #expect(!sniffed.snifferIsInPipeline)
        try sniffed.finish()
    }

    @Test(arguments: [
        ("SSH-2.0-OpenSSH_9.2\r\n", SniffedProtocol.opaque),
        ("\u{0}\u{1}\u{2}garbage", .opaque),
        ("get / HTTP/1.1\r\n", .opaque),
        ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", .opaque),
    ])
    func garbageIsOpaqueAtOnce(text: String, expected: SniffedProtocol) throws {
        let sniffed = try SniffedChannel()
        try sniffed.write(text)
        #expect(sniffed.verdicts.found == [expected])
        try sniffed.verdicts.release()
        #expect(try sniffed.passedOn() == Array(text.utf8), "opaque bytes are relayed unchanged")
        try sniffed.finish()
    }

    @Test func brokenTLSRecordIsMalformedTLS() throws {
        let sniffed = try SniffedChannel()
        try sniffed.write(ByteBuffer(bytes: [0x16, 0x03, 0x01, 0x00, 0x00]))
        #expect(sniffed.verdicts.found == [.malformedTLS("record length 0 out of range")])
        try sniffed.finish()
    }

    @Test func silenceIsOpaqueAfterTheTimeout() throws {
        var limits = ProxyLimits()
        limits.sniffTimeout = .seconds(2)
        let sniffed = try SniffedChannel(limits: limits)
        sniffed.channel.embeddedEventLoop.advanceTime(by: .milliseconds(1999))
        #expect(sniffed.verdicts.found.isEmpty)
        sniffed.channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(sniffed.verdicts.found == [.opaque])
        sniffed.channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        #expect(sniffed.verdicts.found == [.opaque], "the timer fires once")
        try sniffed.verdicts.release()
        #expect(try sniffed.passedOn().isEmpty)
        #expect(!sniffed.snifferIsInPipeline)
        try sniffed.finish()
    }

    @Test func theTimerStartsWhenTheConnectionBecomesActive() throws {
        let sniffed = try SniffedChannel(active: false)
        sniffed.channel.embeddedEventLoop.advanceTime(by: .seconds(5))
        #expect(sniffed.verdicts.found.isEmpty, "no timer before the connection is active")
        sniffed.channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 4000), promise: nil)
        sniffed.channel.embeddedEventLoop.advanceTime(by: .milliseconds(499))
        #expect(sniffed.verdicts.found.isEmpty)
        sniffed.channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(sniffed.verdicts.found == [.opaque], "default sniff timeout: 500 ms")
        try sniffed.finish()
    }

    @Test func anUnfinishedPrefixBecomesOpaqueAtTheTimeoutAndIsPassedOn() throws {
        let sniffed = try SniffedChannel()
        try sniffed.write("GE")
        sniffed.channel.embeddedEventLoop.advanceTime(by: .milliseconds(499))
        #expect(sniffed.verdicts.found.isEmpty)
        sniffed.channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        #expect(sniffed.verdicts.found == [.opaque])
        try sniffed.write("T?")
        try sniffed.verdicts.release()
        #expect(try sniffed.passedOn() == Array("GET?".utf8))
        try sniffed.finish()
    }

    @Test func aVerdictCancelsTheTimerAndAClosedConnectionGetsNone() throws {
        let decided = try SniffedChannel()
        try decided.write("PUT /x HTTP/1.1\r\n")
        decided.channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        #expect(decided.verdicts.found == [.http])
        try decided.finish()

        let closed = try SniffedChannel()
        try closed.write("PO")
        try closed.channel.close().wait()
        closed.channel.embeddedEventLoop.advanceTime(by: .seconds(10))
        #expect(closed.verdicts.found.isEmpty, "a connection that went away is not handed on")
        try closed.finish()
    }

    @Test func moreThanTheSniffLimitOfAnUnfinishedMethodIsOpaque() throws {
        var limits = ProxyLimits()
        limits.sniffBytes = 8
        let sniffed = try SniffedChannel(limits: limits)
        try sniffed.write("PROPF")
        #expect(sniffed.verdicts.found.isEmpty, "5 bytes: still a possible method")
        try sniffed.write("IN")
        #expect(sniffed.verdicts.found.isEmpty, "7 bytes: still under the limit")
        try sniffed.write("D")
        #expect(sniffed.verdicts.found == [.opaque], "8 bytes of a method token without its space: the limit")
        try sniffed.write(" / HTTP/1.1\r\n")
        #expect(sniffed.verdicts.found == [.opaque])
        try sniffed.verdicts.release()
        #expect(try sniffed.passedOn() == Array("PROPFIND / HTTP/1.1\r\n".utf8))
        try sniffed.finish()
    }

    @Test func aClientHelloLongerThanTheSniffLimitIsMalformed() throws {
        // One handshake byte per record: the hello's records outgrow the default limit
        // (16 KiB + 512) long before the hello is whole.
        let records = Array(ClientHelloBuilder(extraExtensionBytes: 4000, recordSize: 1).records().readableBytesView)
        let limit = ProxyLimits().sniffBytes
        #expect(records.count > limit + 1000)
        let sniffed = try SniffedChannel()
        var offset = 0
        while offset < records.count, sniffed.verdicts.found.isEmpty {
            try sniffed.write(ByteBuffer(bytes: records[offset..<min(offset + 1000, records.count)]))
            offset += 1000
        }
        #expect(sniffed.verdicts.found == [.malformedTLS("ClientHello too long")])
        #expect(offset == (limit / 1000 + 1) * 1000, "decided at the first read that reached the limit")
        try sniffed.finish()
    }
}
