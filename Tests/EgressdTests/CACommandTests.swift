import EgressTesting
import Foundation
import Testing

@Suite(.enabled(if: Egressd.isBuilt, "egressd is not built; run `swift build` first (scripts/test does)"))
struct CACommandTests {
    let directory: TemporaryDirectory
    let state: String

    init() throws {
        directory = try TemporaryDirectory()
        state = directory.path("state")
    }

    @Test func initCreatesTheCAOnceAndPrintsItsPath() async throws {
        try await offThread { try self.initCreatesTheCAOnceAndPrintsItsPathBody() }
    }

    private func initCreatesTheCAOnceAndPrintsItsPathBody() throws {
        let first = try Egressd.run(["ca", "init", "--state-dir", state])
        #expect(first.status == 0, "\(first.combinedOutput)")
        #expect(first.standardOutput == "\(state)/ca.crt\n")
        #expect(first.standardError.contains("created"))
        let certificate = try String(contentsOfFile: "\(state)/ca.crt", encoding: .utf8)

        let second = try Egressd.run(["ca", "init", "--state-dir", state])
        #expect(second.status == 0)
        #expect(second.standardError.contains("already present"))
        #expect(try String(contentsOfFile: "\(state)/ca.crt", encoding: .utf8) == certificate)
    }

    @Test func showPrintsSubjectFingerprintAndValidityButNeverTheKey() async throws {
        try await offThread { try self.showPrintsSubjectFingerprintAndValidityButNeverTheKeyBody() }
    }

    private func showPrintsSubjectFingerprintAndValidityButNeverTheKeyBody() throws {
        #expect(try Egressd.run(["ca", "init", "--state-dir", state]).status == 0)
        let shown = try Egressd.run(["ca", "show", "--state-dir", state])
        #expect(shown.status == 0, "\(shown.combinedOutput)")
        let fingerprint = try ProcessRunner.run(
            "openssl", ["x509", "-in", "\(state)/ca.crt", "-noout", "-fingerprint", "-sha256"]
        ).standardOutput.split(separator: "=").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        #expect(shown.standardOutput.contains("sha256:      \(try #require(fingerprint))"))
        #expect(shown.standardOutput.contains("subject:     CN=Egress Interception CA"))
        #expect(shown.standardOutput.contains("not after:"))
        let key = try String(contentsOfFile: "\(state)/ca.key", encoding: .utf8)
        let keyBody = key.split(separator: "\n").dropFirst().first.map(String.init) ?? key
        #expect(!shown.combinedOutput.contains("PRIVATE KEY"))
        #expect(!shown.combinedOutput.contains(keyBody))
    }

    @Test func showDoesNotCreateAMissingCA() async throws {
        try await offThread { try self.showDoesNotCreateAMissingCABody() }
    }

    private func showDoesNotCreateAMissingCABody() throws {
        let shown = try Egressd.run(["ca", "show", "--state-dir", state])
        #expect(shown.status != 0)
        #expect(shown.standardError.contains("cannot read \(state)/ca.crt"))
        #expect(!FileManager.default.fileExists(atPath: state))
    }

    @Test func mintWritesTheLeafThenTheCA() async throws {
        try await offThread { try self.mintWritesTheLeafThenTheCABody() }
    }

    private func mintWritesTheLeafThenTheCABody() throws {
        let out = directory.path("chain.pem")
        let minted = try Egressd.run(["ca", "mint", "api.example.com", "--state-dir", state, "--out", out])
        #expect(minted.status == 0, "\(minted.combinedOutput)")
        let chain = try String(contentsOfFile: out, encoding: .utf8)
        #expect(chain.components(separatedBy: "-----BEGIN CERTIFICATE-----").count == 3)
        #expect(!chain.contains("PRIVATE KEY"))
        let caFile = "\(state)/ca.crt"
        let caPEM = try String(contentsOfFile: caFile, encoding: .utf8)
        #expect(chain.hasSuffix(caPEM))
        let verified = try ProcessRunner.run(
            "openssl", ["verify", "-CAfile", caFile, "-verify_hostname", "api.example.com", out]
        )
        #expect(verified.status == 0, "\(verified.combinedOutput)")
    }

    @Test func mintCanWriteTheLeafKeyForServingItButNeverPrintsIt() async throws {
        try await offThread { try self.mintCanWriteTheLeafKeyForServingItButNeverPrintsItBody() }
    }

    private func mintCanWriteTheLeafKeyForServingItButNeverPrintsItBody() throws {
        let out = directory.path("chain.pem"), keyOut = directory.path("leaf.key")
        let minted = try Egressd.run(["ca", "mint", "a.example", "--state-dir", state, "--out", out, "--key-out", keyOut])
        #expect(minted.status == 0, "\(minted.combinedOutput)")
        #expect(!minted.combinedOutput.contains("PRIVATE KEY"))
        let attributes = try FileManager.default.attributesOfItem(atPath: keyOut)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let leafKey = try ProcessRunner.run("openssl", ["pkey", "-in", keyOut, "-pubout"]).standardOutput
        let certificateKey = try ProcessRunner.run("openssl", ["x509", "-in", out, "-noout", "-pubkey"]).standardOutput
        #expect(!leafKey.isEmpty && leafKey == certificateKey)
        let caKey = try String(contentsOfFile: "\(state)/ca.key", encoding: .utf8)
        #expect(try String(contentsOfFile: keyOut, encoding: .utf8) != caKey)
    }

    @Test func mintToStandardOutput() async throws {
        try await offThread { try self.mintToStandardOutputBody() }
    }

    private func mintToStandardOutputBody() throws {
        let minted = try Egressd.run(["ca", "mint", "198.51.100.7", "--state-dir", state])
        #expect(minted.status == 0, "\(minted.combinedOutput)")
        #expect(minted.standardOutput.hasPrefix("-----BEGIN CERTIFICATE-----"))
    }

    @Test(arguments: [
        (["ca", "mint", "bad name", "--state-dir", "STATE"], "invalid certificate name"),
        (["ca", "mint", "a.example", "--ca-certificate", "/nonexistent.crt"], "--ca-certificate and --ca-key go together"),
        (["ca", "mint", "a.example", "--ca-certificate", "/nonexistent.crt", "--ca-key", "/nonexistent.key"],
         "cannot read /nonexistent.crt"),
        (["ca", "show", "--state-dir", "STATE/missing"], "cannot read"),
        (["ca", "bogus"], "Unexpected argument"),
    ])
    func badInputFailsClearly(arguments: [String], message: String) throws {
        let result = try Egressd.run(arguments.map { $0.replacingOccurrences(of: "STATE", with: state) })
        #expect(result.status != 0)
        #expect(result.standardError.contains(message), "\(result.combinedOutput)")
        #expect(!result.combinedOutput.contains("PRIVATE KEY"))
    }

    @Test func corruptKeyIsRefusedAndKept() async throws {
        try await offThread { try self.corruptKeyIsRefusedAndKeptBody() }
    }

    private func corruptKeyIsRefusedAndKeptBody() throws {
        #expect(try Egressd.run(["ca", "init", "--state-dir", state]).status == 0)
        try "garbage\n".write(toFile: "\(state)/ca.key", atomically: true, encoding: .utf8)
        let minted = try Egressd.run(["ca", "mint", "a.example", "--state-dir", state])
        #expect(minted.status != 0)
        #expect(minted.standardError.contains("\(state)/ca.key: not a readable PEM private key"))
        #expect(try String(contentsOfFile: "\(state)/ca.key", encoding: .utf8) == "garbage\n")
    }
}
