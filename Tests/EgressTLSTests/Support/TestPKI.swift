import EgressTLS
import EgressTesting
import Foundation

/// A throwaway certificate authority and a leaf for `localhost`, `127.0.0.1` and `::1`, made
/// once per test run with the `openssl` command; only the PEM text is kept, no files.
struct TestPKI: Sendable {
    let caCertificatePEM: String
    let leafCertificatePEM: String
    let leafKeyPEM: String
    /// A key that belongs to no certificate.
    let otherKeyPEM: String

    /// The PKI shared by all tests (generating keys costs a few process launches).
    static let shared = Result { try TestPKI() }

    private init() throws {
        let files = try TemporaryDirectory()
        let leafExtensions = """
            subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
            basicConstraints = critical, CA:FALSE
            keyUsage = critical, digitalSignature
            extendedKeyUsage = serverAuth
            subjectKeyIdentifier = hash
            authorityKeyIdentifier = keyid
            """
        try files.write(leafExtensions, to: "leaf.ext")
        try OpenSSLCommand.run(
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Egress Test CA",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ],
            in: files
        )
        try OpenSSLCommand.run(
            [
                "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=localhost",
            ],
            in: files
        )
        try OpenSSLCommand.run(
            [
                "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "2",
                "-days", "2", "-extfile", "leaf.ext", "-out", "leaf.pem",
            ],
            in: files
        )
        try OpenSSLCommand.run(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "other.key"], in: files)
        caCertificatePEM = try files.read("ca.pem")
        leafCertificatePEM = try files.read("leaf.pem")
        leafKeyPEM = try files.read("leaf.key")
        otherKeyPEM = try files.read("other.key")
    }

    /// A server context presenting the leaf followed by the CA.
    func serverContext(alpn: [String] = ["http/1.1"]) throws -> TLSContext {
        try TLSContext.server(certificateChainPEM: leafCertificatePEM + caCertificatePEM, privateKeyPEM: leafKeyPEM, alpn: alpn)
    }

    /// A client context that trusts the test CA (besides the system roots).
    func trustingClientContext(alpn: [String] = ["http/1.1"]) throws -> TLSContext {
        let files = try TemporaryDirectory()
        let caFile = try files.write(caCertificatePEM, to: "ca.pem")
        return try TLSContext.client(extraRootsPEMFile: caFile, alpn: alpn)
    }

    /// Writes the CA certificate, the leaf (with the CA as chain) and its key into `directory`.
    func writeFiles(to directory: TemporaryDirectory) throws -> (ca: String, chain: String, key: String) {
        (
            ca: try directory.write(caCertificatePEM, to: "ca.pem"),
            chain: try directory.write(leafCertificatePEM + caCertificatePEM, to: "chain.pem"),
            key: try directory.write(leafKeyPEM, to: "leaf.key")
        )
    }
}

/// A directory under the system temporary directory, removed with everything in it when the
/// value goes away.
final class TemporaryDirectory: Sendable {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "egress-tls-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Writes `text` to `name` in the directory and returns the file's path.
    @discardableResult
    func write(_ text: String, to name: String) throws -> String {
        let file = path + "/" + name
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    func read(_ name: String) throws -> String {
        try String(contentsOfFile: path + "/" + name, encoding: .utf8)
    }
}

/// Runs the `openssl` command to completion.
enum OpenSSLCommand {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func run(_ arguments: [String], in directory: TemporaryDirectory) throws {
        // `sh` changes into the directory, then becomes openssl with the arguments as given.
        let result = try ProcessRunner.run("/bin/sh", ["-c", "cd \"$0\" && exec openssl \"$@\"", directory.path] + arguments)
        guard result.status == 0 else {
            throw Failure(description: "openssl \(arguments.joined(separator: " ")) failed: \(result.standardError)")
        }
    }
}
