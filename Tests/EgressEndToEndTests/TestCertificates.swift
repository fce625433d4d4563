import EgressTesting
import Foundation

/// An origin's own CA and server certificate, made with the `openssl` tool, so tests can tell
/// the origin's certificate from a leaf the proxy minted.
struct OriginCertificates {
    let ca: String
    let certificate: String
    let key: String

    init(in directory: TemporaryDirectory, names: [String], addresses: [String]) throws {
        ca = directory.path("origin-ca.crt")
        certificate = directory.path("origin.crt")
        key = directory.path("origin.key")
        let caKey = directory.path("origin-ca.key"), request = directory.path("origin.csr")
        let extensions = try directory.write(
            "subjectAltName=" + (names.map { "DNS:\($0)" } + addresses.map { "IP:\($0)" }).joined(separator: ","),
            to: "origin.ext"
        )
        let curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        for arguments in [
            ["req", "-x509"] + curve + ["-keyout", caKey, "-out", ca, "-days", "2", "-subj", "/CN=Test Origin CA"],
            ["req", "-new"] + curve + ["-keyout", key, "-out", request, "-subj", "/CN=\(names.first ?? "origin")"],
            ["x509", "-req", "-in", request, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-days", "2", "-extfile", extensions, "-out", certificate],
        ] {
            let result = try ProcessRunner.run("openssl", arguments)
            guard result.status == 0 else { throw TestSupportError("openssl \(arguments.first ?? ""): \(result.combinedOutput)") }
        }
    }
}
