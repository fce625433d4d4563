import EgressLinux
import EgressRules
import EgressTesting
import Glibc
import NIOCore
import NIOPosix
import Testing

/// REDIRECT inside a test namespace, as a container's traffic is captured: the proxy's listener
/// is made inside the namespace and served by NIO in this process, and a real client in the
/// namespace dials addresses that no host has.
@Suite(.requiresRoot) struct RedirectTests {
    static let proxyPort: UInt16 = 15001

    /// A listener and the destinations clients dial through it.
    struct Case: Sendable, CustomTestStringConvertible {
        let listen: IPAddress
        let ipv6Only: Bool
        let destinations: [String]
        var testDescription: String { "\(listen) listener, \(destinations.joined(separator: " and "))" }
    }

    /// A namespace whose outbound TCP goes to ``proxyPort``, with routes for the test ranges.
    private func capturingNamespace() throws -> NetworkNamespace {
        let namespace = try NetworkNamespace()
        try namespace.routeToLoopback("203.0.113.0/24")
        try namespace.routeToLoopback("2001:db8::/64")
        try namespace.redirectOutboundTCP(toPort: Self.proxyPort)
        return namespace
    }

    @Test(arguments: [
        Case(listen: .anyV4, ipv6Only: false, destinations: ["203.0.113.10:80"]),
        Case(listen: .anyV6, ipv6Only: true, destinations: ["[2001:db8::10]:443"]),
        Case(listen: .anyV6, ipv6Only: false, destinations: ["203.0.113.10:80", "[2001:db8::10]:443"]),
    ])
    func aNIOServerReadsTheOriginalDestination(_ setup: Case) async throws {
        let namespace = try capturingNamespace()
        let listener = try NetworkNamespaceSockets.createListener(
            inNetworkNamespace: namespace.path, address: setup.listen, port: Self.proxyPort, ipv6Only: setup.ipv6Only
        )
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(OriginalDestinationResponder())
                }
            }
            .withBoundSocket(listener)
            .get()
        for destination in setup.destinations {
            let colon = try #require(destination.lastIndex(of: ":"))
            let host = destination[..<colon].trimmingCharacters(in: ["[", "]"])
            let port = destination[destination.index(after: colon)...]
            let client = try namespace.run(["python3", "-c", """
                import socket
                connection = socket.create_connection(("\(host)", \(port)), timeout=5)
                print(connection.makefile().readline().strip())
                """], timeout: 15)
            let rules = try namespace.savedRules()
            #expect(client.status == 0, "\(client.combinedOutput)\n\(rules)")
            #expect(client.standardOutput == "\(destination)\n")
        }
        try await server.close()
    }

    @Test func markedSocketsBypassTheRedirect() throws {
        let namespace = try NetworkNamespace()
        // The origin lives in the namespace itself here, so an unredirected connection arrives.
        try namespace.ip("address", "add", "203.0.113.10/32", "dev", "lo")
        try namespace.redirectOutboundTCP(toPort: Self.proxyPort, exceptMark: 0x2A)
        let proxy = try NetworkNamespaceSockets.createListener(inNetworkNamespace: namespace.path, address: .anyV4, port: Self.proxyPort)
        defer { close(proxy) }
        let originAddress = try #require(IPAddress("203.0.113.10"))
        let origin = try NetworkNamespaceSockets.createListener(inNetworkNamespace: namespace.path, address: originAddress, port: 80)
        defer { close(origin) }
        let destination = IPEndpoint(address: originAddress, port: 80)

        for mark in [nil, 0x2A] as [UInt32?] {
            let socket = try NetworkNamespaceSockets.createSocket(inNetworkNamespace: namespace.path, reaching: originAddress)
            defer { close(socket) }
            if let mark { try SocketOptions.setMark(mark, on: socket) }
            try TestSockets.connect(socket, to: destination)
            let accepted = try TestSockets.accept(mark == nil ? proxy : origin)
            defer { close(accepted) }
            #expect(try IPEndpoint.local(of: accepted).port == (mark == nil ? Self.proxyPort : 80))
            // (For the marked, unredirected connection the original destination is the real one
            // either way: only the port above tells the cases apart.)
            if mark == nil { #expect(try OriginalDestination.of(socket: accepted) == destination) }
        }
    }

    @Test func aConnectionNobodyRedirectedHasNoOriginalDestination() throws {
        let namespace = try NetworkNamespace()
        let listener = try NetworkNamespaceSockets.createListener(inNetworkNamespace: namespace.path, address: .loopbackV4, port: 0)
        defer { close(listener) }
        let socket = try NetworkNamespaceSockets.createSocket(inNetworkNamespace: namespace.path, reaching: .loopbackV4)
        defer { close(socket) }
        try TestSockets.connect(socket, to: IPEndpoint.local(of: listener))
        let accepted = try TestSockets.accept(listener)
        defer { close(accepted) }
        let error = #expect(throws: LinuxError.self) { try OriginalDestination.of(socket: accepted) }
        #expect(error?.code == ENOENT)
        #expect(error?.description == "getsockopt(SO_ORIGINAL_DST): No such file or directory (errno 2)")
    }
}

/// Answers every connection with its original destination on one line, then closes it.
private final class OriginalDestinationResponder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        OriginalDestination.of(channel: channel).whenComplete { result in
            let line = switch result {
            case .success(let destination): "\(destination)\n"
            case .failure(let error): "error: \(error)\n"
            }
            channel.writeAndFlush(ByteBuffer(string: line)).whenComplete { _ in channel.close(promise: nil) }
        }
        context.fireChannelActive()
    }
}
