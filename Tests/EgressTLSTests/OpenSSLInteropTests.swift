import EgressTLS
import NIOCore
import NIOPosix
import Testing

/// The handler against the `openssl` command line tools over real sockets on 127.0.0.1.
@Suite struct OpenSSLInteropTests {
    let pki: TestPKI

    init() throws {
        pki = try TestPKI.shared.get()
    }

    @Test func clientTalksToOpenSSLServer() async throws {
        let directory = try TemporaryDirectory()
        let files = try pki.writeFiles(to: directory)
        let server = try ChildProcess(openssl: [
            "s_server", "-accept", "127.0.0.1:0", "-cert", files.chain, "-key", files.key, "-alpn", "http/1.1", "-rev",
        ])
        let port = try #require(Int(try await server.waitForOutput(matching: #"ACCEPT 127\.0\.0\.1:(\d+)"#)))
        let context = try TLSContext.client(extraRootsPEMFile: files.ca)

        let first = try await exchangeLine(client: context, port: port, line: "hello egress\n", expected: "\n")
        #expect(first.reply == "sserge olleh\n")
        #expect(first.handshake.peerCertificateVerified)
        #expect(first.handshake.negotiatedProtocol == "http/1.1")
        #expect(!first.handshake.sessionReused)

        // The session from the first connection resumes against a real server too.
        let second = try await exchangeLine(client: context, port: port, line: "again\n", expected: "\n")
        #expect(second.reply == "niaga\n")
        #expect(second.handshake.sessionReused)
    }

    @Test func clientWithoutAutoReadStillHandshakesAndReadsOnDemand() async throws {
        let directory = try TemporaryDirectory()
        let files = try pki.writeFiles(to: directory)
        let server = try ChildProcess(openssl: ["s_server", "-accept", "127.0.0.1:0", "-cert", files.chain, "-key", files.key, "-rev"])
        let port = try #require(Int(try await server.waitForOutput(matching: #"ACCEPT 127\.0\.0\.1:(\d+)"#)))

        let context = try TLSContext.client(extraRootsPEMFile: files.ca)
        let result = try await exchangeLine(client: context, port: port, line: "backpressure\n", expected: "\n", autoRead: false)
        #expect(result.reply == "erusserpkcab\n")
    }

    @Test func clientRejectsOpenSSLServerWithoutTrust() async throws {
        let directory = try TemporaryDirectory()
        let files = try pki.writeFiles(to: directory)
        let server = try ChildProcess(openssl: ["s_server", "-accept", "127.0.0.1:0", "-cert", files.chain, "-key", files.key, "-rev"])
        let port = try #require(Int(try await server.waitForOutput(matching: #"ACCEPT 127\.0\.0\.1:(\d+)"#)))

        await #expect(throws: TLSError.self) {
            // The system roots alone do not know the test CA.
            _ = try await exchangeLine(client: TLSContext.client(), port: port, line: "x\n", expected: "\n")
        }
    }

    @Test(arguments: ["-tls1_3", "-tls1_2"])
    func openSSLClientTalksToServer(version: String) async throws {
        let directory = try TemporaryDirectory()
        let files = try pki.writeFiles(to: directory)
        let handshake = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: TLSHandshakeResult.self)
        let listener = try await startLineEchoServer(context: pki.serverContext(), handshake: handshake)
        let port = try #require(listener.localAddress?.port)

        let client = try ChildProcess(openssl: [
            "s_client", "-connect", "127.0.0.1:\(port)", version, "-verify_return_error", "-CAfile", files.ca,
            "-servername", "localhost", "-verify_hostname", "localhost", "-alpn", "http/1.1", "-ign_eof",
        ])
        client.send("hello from s_client\n")
        let status = try await client.waitForExit()
        try await listener.close()
        let output = client.outputText

        #expect(status == 0, "s_client output:\n\(output)")
        #expect(output.contains("ALPN protocol: http/1.1"))
        #expect(output.contains("Verify return code: 0 (ok)"))
        #expect(output.contains("hello from s_client"))
        let result = try await handshake.futureResult.get()
        #expect(result.serverName == "localhost")
        #expect(result.negotiatedProtocol == "http/1.1")
        #expect(result.protocolVersion == (version == "-tls1_3" ? "TLSv1.3" : "TLSv1.2"))
    }

    @Test func tls12SessionResumesWithOpenSSLClient() async throws {
        let directory = try TemporaryDirectory()
        let files = try pki.writeFiles(to: directory)
        let listener = try await startLineEchoServer(context: pki.serverContext())
        let port = try #require(listener.localAddress?.port)
        let session = directory.path + "/session.pem"

        var outputs: [String] = []
        for sessionOption in ["-sess_out", "-sess_in"] {
            let client = try ChildProcess(openssl: [
                "s_client", "-connect", "127.0.0.1:\(port)", "-tls1_2", "-CAfile", files.ca, "-servername", "localhost",
                "-verify_return_error", sessionOption, session, "-ign_eof",
            ])
            client.send("line\n")
            #expect(try await client.waitForExit() == 0)
            outputs.append(client.outputText)
        }
        try await listener.close()

        #expect(outputs[0].contains("New, TLSv1.2"))
        #expect(outputs[1].contains("Reused, TLSv1.2"))
    }
}
