import ArgumentParser
import EgressCertificates
import Foundation

/// `egressd ca`: the proxy's certificate authority, for users and for inspection.
struct CACommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ca",
        abstract: "Create, inspect and use the interception CA.",
        subcommands: [Init.self, Show.self, Mint.self]
    )

    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the CA in the state directory if it is missing; print the certificate's path."
        )

        @Option(name: .customLong("state-dir"), help: "The state directory (created with mode 0700).")
        var stateDirectory: String = "./state"

        func run() throws {
            let store = CertificateAuthorityStore(stateDirectory: URL(fileURLWithPath: stateDirectory))
            let (authority, created) = try store.loadOrCreate()
            print(store.certificateFile.path)
            let verb = created ? "created" : "already present"
            FileHandle.standardError.write(Data("\(verb): \(authority.certificate.subject)\n".utf8))
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the CA's subject, SHA-256 fingerprint and validity (never the key)."
        )

        @OptionGroup var ca: CAOptions

        func run() throws {
            let store = ca.store
            let authority = try store.load()
            let certificate = authority.certificate
            print("certificate: \(store.certificateFile.path)")
            print("subject:     \(certificate.subject)")
            print("issuer:      \(certificate.issuer)")
            print("sha256:      \(certificate.sha256Fingerprint)")
            print("not before:  \(certificate.notBefore.ISO8601Format())")
            print("not after:   \(certificate.notAfter.ISO8601Format())")
            print("key:         \(authority.privateKey.summary)")
        }
    }

    struct Mint: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Mint a leaf certificate for a name; write it followed by the CA certificate (PEM).",
            discussion: "Uses the state directory's CA, creating it if missing, or --ca-certificate/--ca-key."
        )

        @Argument(help: "A DNS name (example.com, *.example.com) or an IP address.")
        var name: String

        @OptionGroup var ca: CAOptions

        @Option(help: "Where to write the PEM chain; standard output if omitted.")
        var out: String?

        @Option(name: .customLong("key-out"), help: "Also write the leaf's private key here (mode 0600), to serve the leaf yourself.")
        var keyOut: String?

        func run() throws {
            let store = ca.store
            let authority = store.stateDirectory == nil ? try store.load() : try store.loadOrCreate().authority
            let leaf = try LeafMinter(authority: authority).mint(try LeafName(name))
            let pem = try leaf.pemChain()
            if let keyOut {
                try writePrivate(try leaf.privateKey.pemString(), to: keyOut)
            }
            guard let out else {
                print(pem, terminator: "")
                return
            }
            do {
                try pem.write(toFile: out, atomically: true, encoding: .utf8)
            } catch {
                throw CommandFailure("cannot write \(out): \(error.localizedDescription)")
            }
            print("\(out): \(leaf.certificate.subject), valid until \(leaf.certificate.notAfter.ISO8601Format())")
        }

        /// Writes `text` to a file that only its owner can read, replacing what was there.
        private func writePrivate(_ text: String, to path: String) throws {
            unlink(path)
            guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
                throw CommandFailure("cannot write \(path)")
            }
        }
    }
}
