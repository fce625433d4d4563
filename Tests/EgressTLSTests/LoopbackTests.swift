import EgressTLS
import NIOCore
import NIOPosix
import Testing

/// Both roles of the handler over real sockets on 127.0.0.1, on NIO's event loop threads.
@Suite struct LoopbackTests {
    let pki: TestPKI

    init() throws {
        pki = try TestPKI.shared.get()
    }

    @Test func concurrentClientsShareContextsAndResume() async throws {
        let listener = try await startLineEchoServer(context: pki.serverContext())
        let port = try #require(listener.localAddress?.port)
        let client = try pki.trustingClientContext()

        let first = try await exchangeLine(client: client, port: port, line: "first\n", expected: "\n")
        #expect(first.reply == "first\n")
        #expect(!first.handshake.sessionReused)

        let results = try await withThrowingTaskGroup(of: (Int, TLSHandshakeResult, String).self) { group in
            for index in 0..<20 {
                group.addTask {
                    let (handshake, reply) = try await exchangeLine(client: client, port: port, line: "line \(index)\n", expected: "\n")
                    return (index, handshake, reply)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        try await listener.close()

        #expect(results.count == 20)
        for (index, handshake, reply) in results {
            #expect(reply == "line \(index)\n")
            #expect(handshake.peerCertificateVerified)
            #expect(handshake.sessionReused)
        }
    }

    @Test func largeEchoArrivesWholeBeforeCloseNotify() async throws {
        let listener = try await startLineEchoServer(context: pki.serverContext())
        let port = try #require(listener.localAddress?.port)
        let payload = String(repeating: "0123456789abcdef", count: 65_536) + "\n"  // 1 MiB and a newline

        let result = try await exchangeLine(client: pki.trustingClientContext(), port: port, line: payload, expected: "\n")
        try await listener.close()
        #expect(result.reply.utf8.count == payload.utf8.count)
        #expect(result.reply == payload)
    }
}
