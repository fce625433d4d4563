@testable import EgressProxy
import EgressTesting
import Foundation
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing

/// Helpers shared by the in-memory tests of the proxy's parts (sniffer, relay, exchange loop,
/// conversion, deadline, built-in workers).
enum EmbeddedSupport {
    /// A wait that ignores cancellation and lasts until the test opens the gate: the shape of a
    /// handler or a piece of work that hangs.
    final class Gate: Sendable {
        private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>], entered: Int)>((false, [], 0))

        func wait() async {
            await withCheckedContinuation { continuation in
                let open = state.withLock { state in
                    state.entered += 1
                    if !state.open { state.waiters.append(continuation) }
                    return state.open
                }
                if open { continuation.resume() }
            }
        }

        /// How many waits began.
        var entered: Int { state.withLock { $0.entered } }

        /// Returns once a wait has begun (what a test held reached the gate), or throws after
        /// 10 s: an answer that came without it may have overtaken the work's first step.
        func entry() async throws {
            try await within(.seconds(10), "the work to reach the gate") {
                while self.entered == 0 { try await Task.sleep(for: .milliseconds(5)) }
            }
        }

        func open() {
            let waiters = state.withLock { state in
                state.open = true
                defer { state.waiters = [] }
                return state.waiters
            }
            waiters.forEach { $0.resume() }
        }
    }

    // MARK: HTTP/1.1 responses as bytes

    /// One response read off the wire.
    struct WireResponse: Sendable, CustomStringConvertible {
        var statusLine: String
        /// Header fields in order, names as sent.
        var headers: [(name: String, value: String)]
        var body: String

        var status: Int { Int(statusLine.split(separator: " ")[1]) ?? -1 }

        func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }

        func headers(named name: String) -> [String] {
            headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
        }

        var description: String { "\(statusLine) \(headers) \(body)" }
    }

    struct MalformedResponse: Error, CustomStringConvertible {
        let description: String
    }

    /// Parses the responses a client would read from `bytes`: complete ones are returned and
    /// removed from the buffer. `bodyless` says, per response, whether it answers a HEAD.
    static func parseResponse(_ bytes: inout ByteBuffer, bodyless: Bool = false) throws -> WireResponse? {
        let view = bytes.readableBytesView
        guard let end = view.firstRange(of: Array("\r\n\r\n".utf8)) else { return nil }
        let headText = String(decoding: view[view.startIndex..<end.lowerBound], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst()
        guard statusLine.hasPrefix("HTTP/1.") else { throw MalformedResponse(description: "not a status line: \(statusLine.debugDescription)") }
        var headers: [(name: String, value: String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { throw MalformedResponse(description: "bad header line \(line.debugDescription)") }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        var response = WireResponse(statusLine: statusLine, headers: headers, body: "")
        var cursor = end.upperBound - view.startIndex
        let informational = (100..<200).contains(response.status)
        if bodyless || informational || response.status == 204 || response.status == 304 {
            bytes.moveReaderIndex(forwardBy: cursor)
            return response
        }
        if let length = response.header("content-length").flatMap(Int.init) {
            guard bytes.readableBytes - cursor >= length else { return nil }
            response.body = bytes.getString(at: bytes.readerIndex + cursor, length: length) ?? ""
            bytes.moveReaderIndex(forwardBy: cursor + length)
            return response
        }
        if response.header("transfer-encoding")?.lowercased() == "chunked" {
            var body = ""
            while true {
                let rest = bytes.getSlice(at: bytes.readerIndex + cursor, length: bytes.readableBytes - cursor) ?? ByteBuffer()
                guard let lineEnd = rest.readableBytesView.firstRange(of: Array("\r\n".utf8)) else { return nil }
                let sizeText = String(decoding: rest.readableBytesView[rest.readerIndex..<lineEnd.lowerBound], as: UTF8.self)
                guard let size = Int(sizeText.split(separator: ";")[0], radix: 16) else {
                    throw MalformedResponse(description: "bad chunk size \(sizeText.debugDescription)")
                }
                let dataStart = lineEnd.upperBound - rest.readerIndex
                guard rest.readableBytes >= dataStart + size + 2 else { return nil }
                body += rest.getString(at: rest.readerIndex + dataStart, length: size) ?? ""
                cursor += dataStart + size + 2
                if size == 0 { break }
            }
            response.body = body
            bytes.moveReaderIndex(forwardBy: cursor)
            return response
        }
        throw MalformedResponse(description: "response without framing: \(response)")
    }

    /// The bytes written to `channel` and not yet read, as text (all of them, in order).
    static func written(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let chunk = try channel.readOutbound(as: ByteBuffer.self) {
            text += String(buffer: chunk)
        }
        return text
    }

    /// Reads what an exchange loop writes to an in-memory channel, response by response.
    struct ResponseReader: Sendable {
        let channel: NIOAsyncTestingChannel
        var pending = ByteBuffer()

        init(_ channel: NIOAsyncTestingChannel) {
            self.channel = channel
        }

        /// The next whole response (waiting for the loop to write it).
        mutating func next(bodyless: Bool = false) async throws -> WireResponse {
            while true {
                if let response = try parseResponse(&pending, bodyless: bodyless) { return response }
                switch try await channel.waitForOutboundWrite(as: IOData.self) {
                case .byteBuffer(var chunk): pending.writeBuffer(&chunk)
                case .fileRegion: throw MalformedResponse(description: "unexpected file region")
                }
            }
        }

        /// Bytes written but not yet read as a response.
        var leftover: String { String(buffer: pending) }
    }

    /// Reads what a client gets over a real connection (the inbound stream of its
    /// `NIOAsyncChannel`, as ``LoopbackHTTPProxy`` hands it), response by response. Only one
    /// reader per stream: the stream can be iterated once.
    struct ConnectionResponseReader {
        private var chunks: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
        private var pending = ByteBuffer()

        init(_ inbound: NIOAsyncChannelInboundStream<ByteBuffer>) {
            chunks = inbound.makeAsyncIterator()
        }

        /// The next `count` whole responses (all answering a HEAD if `bodyless`); fewer if the
        /// connection ends first, between responses (inside one, it throws).
        mutating func read(_ count: Int, bodyless: Bool = false) async throws -> [WireResponse] {
            var found: [WireResponse] = []
            while found.count < count {
                if let response = try parseResponse(&pending, bodyless: bodyless) {
                    found.append(response)
                    continue
                }
                guard var chunk = try await chunks.next() else {
                    guard pending.readableBytes == 0 else {
                        throw MalformedResponse(description: "the connection ended inside a response: \(String(buffer: pending).debugDescription)")
                    }
                    break
                }
                pending.writeBuffer(&chunk)
            }
            return found
        }

        /// The responses until the connection ends.
        mutating func readToEnd() async throws -> [WireResponse] {
            try await read(.max)
        }
    }

    /// The first `count` responses on `inbound` (fewer if the connection ends first), for a test
    /// that reads them all at once.
    static func responses(_ count: Int, from inbound: NIOAsyncChannelInboundStream<ByteBuffer>) async throws -> [WireResponse] {
        var reader = ConnectionResponseReader(inbound)
        return try await reader.read(count)
    }

    // MARK: An HTTP origin on loopback

    /// A loopback HTTP/1.1 server that answers every request with a plain-text echo of it: the
    /// request line, then each header field as `name: value` in the order received, then
    /// `body: <body>`.
    final class EchoOrigin: Sendable {
        let channel: any Channel
        private let count: Count
        var port: Int { channel.localAddress?.port ?? 0 }
        /// How many connections it accepted.
        var accepted: Int { count.value.load(ordering: .acquiring) }

        private final class Count: Sendable {
            let value = Atomic<Int>(0)
        }

        init(group: any EventLoopGroup) async throws {
            let count = Count()
            self.count = count
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { channel in
                    count.value.add(1, ordering: .releasing)
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                        try channel.pipeline.syncOperations.addHandler(EchoHandler())
                    }
                }
                .bind(host: "127.0.0.1", port: 0).get()
        }

        func close() async {
            try? await channel.close()
        }
    }

    private final class EchoHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        private var text = ""
        private var keepAlive = true

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                keepAlive = head.isKeepAlive
                text = "\(head.method.rawValue) \(head.uri)\n"
                for (name, value) in head.headers { text += "\(name): \(value)\n" }
                text += "body: "
            case .body(let chunk):
                text += String(buffer: chunk)
            case .end:
                let body = ByteBuffer(string: text)
                var headers = HTTPHeaders([("Content-Type", "text/plain"), ("Content-Length", String(body.readableBytes))])
                headers.add(name: "X-Origin", value: "echo")
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                if !keepAlive { context.close(promise: nil) }
            }
        }
    }
}
