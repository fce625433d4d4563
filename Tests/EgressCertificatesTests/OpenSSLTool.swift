import EgressTesting
import Foundation
import Testing

/// The `openssl` command-line tool, the independent judge of what Egress writes.
enum OpenSSLTool {
    /// Runs `openssl` with `arguments`; the test fails with its output if it does not exit 0.
    @discardableResult
    static func run(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let result = try ProcessRunner.run("openssl", arguments)
        #expect(result.status == 0, "openssl \(arguments.joined(separator: " ")):\n\(result.combinedOutput)",
                sourceLocation: sourceLocation)
        return result.standardOutput
    }

    /// `openssl x509 -text` of a PEM file.
    static func text(ofCertificate path: String) throws -> String {
        try run(["x509", "-in", path, "-noout", "-text"])
    }

    /// A CA made by `openssl req` (not by Egress), as a user would bring it.
    static func makeUserCA(
        in directory: TemporaryDirectory, name: String, keyAlgorithm: [String], days: Int = 30, isCA: Bool = true,
        extensions: [String] = []
    ) throws -> (certificate: String, key: String) {
        let certificate = directory.path("\(name).crt"), key = directory.path("\(name).key")
        var arguments = ["req", "-x509", "-nodes", "-newkey"] + keyAlgorithm
        arguments += ["-keyout", key, "-out", certificate, "-days", String(days), "-subj", "/CN=\(name)"]
        arguments += isCA
            ? ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
            : ["-addext", "basicConstraints=critical,CA:FALSE"]
        try run(arguments + extensions.flatMap { ["-addext", $0] })
        return (certificate, key)
    }
}
