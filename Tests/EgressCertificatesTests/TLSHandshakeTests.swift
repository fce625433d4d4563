import EgressCertificates
import EgressTesting
import Foundation
import Testing

/// Minted leaves in a real TLS handshake: `openssl s_server` presents one, and real clients
/// verify it against the CA with hostname checking, as a container's clients will.
@Suite struct TLSHandshakeTests {
    let directory: TemporaryDirectory
    let store: CertificateAuthorityStore
    let cache: LeafCertificateCache

    init() throws {
        directory = try TemporaryDirectory()
        store = CertificateAuthorityStore(stateDirectory: directory.url.appendingPathComponent("state"))
        cache = LeafCertificateCache(minter: try LeafMinter(authority: try store.loadOrCreate().authority))
    }

    /// Starts `openssl s_server -www` on 127.0.0.1 with the leaf for `name`; returns it and its port.
    private func serve(_ name: String) throws -> (server: BackgroundProcess, port: String) {
        let leaf = try cache.leaf(for: name)
        let certificate = try directory.write(try leaf.certificate.pemString(), to: "\(name).crt")
        let key = try directory.write(try leaf.privateKey.pemString(), to: "\(name).key")
        let server = try BackgroundProcess(
            "openssl", ["s_server", "-accept", "127.0.0.1:0", "-cert", certificate, "-key", key, "-www", "-naccept", "4"]
        )
        let address = try server.waitForLine(startingWith: "ACCEPT ")
        return (server, String(address.split(separator: ":").last ?? ""))
    }

    @Test func curlVerifiesAMintedLeafByName() async throws {
        try await offThread { try self.curlVerifiesAMintedLeafByNameBody() }
    }

    private func curlVerifiesAMintedLeafByNameBody() throws {
        let (server, port) = try serve("intercepted.example")
        defer { server.stop() }
        let result = try ProcessRunner.run("curl", [
            "--silent", "--show-error", "--cacert", store.certificateFile.path,
            "--resolve", "intercepted.example:\(port):127.0.0.1", "https://intercepted.example:\(port)/",
        ])
        #expect(result.status == 0, "\(result.combinedOutput)")
        #expect(result.standardOutput.contains("s_server"))
    }

    @Test func curlRefusesTheLeafForAnotherName() async throws {
        try await offThread { try self.curlRefusesTheLeafForAnotherNameBody() }
    }

    private func curlRefusesTheLeafForAnotherNameBody() throws {
        let (server, port) = try serve("intercepted.example")
        defer { server.stop() }
        let result = try ProcessRunner.run("curl", [
            "--silent", "--show-error", "--cacert", store.certificateFile.path,
            "--resolve", "other.example:\(port):127.0.0.1", "https://other.example:\(port)/",
        ])
        #expect(result.status == 60, "\(result.combinedOutput)")
    }

    @Test func curlVerifiesAMintedLeafForAnAddress() async throws {
        try await offThread { try self.curlVerifiesAMintedLeafForAnAddressBody() }
    }

    private func curlVerifiesAMintedLeafForAnAddressBody() throws {
        let (server, port) = try serve("127.0.0.1")
        defer { server.stop() }
        let result = try ProcessRunner.run("curl", [
            "--silent", "--show-error", "--cacert", store.certificateFile.path, "https://127.0.0.1:\(port)/",
        ])
        #expect(result.status == 0, "\(result.combinedOutput)")
    }

    @Test func opensslClientVerifiesWithHostnameChecking() async throws {
        try await offThread { try self.opensslClientVerifiesWithHostnameCheckingBody() }
    }

    private func opensslClientVerifiesWithHostnameCheckingBody() throws {
        let (server, port) = try serve("intercepted.example")
        defer { server.stop() }
        let result = try ProcessRunner.run("openssl", [
            "s_client", "-connect", "127.0.0.1:\(port)", "-servername", "intercepted.example",
            "-verify_hostname", "intercepted.example", "-verify_return_error", "-CAfile", store.certificateFile.path,
        ], input: "")
        #expect(result.status == 0, "\(result.combinedOutput)")
        #expect(result.standardOutput.contains("Verify return code: 0 (ok)"))
    }
}
