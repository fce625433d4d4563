import ArgumentParser
import EgressCertificates
import Foundation

/// Which CA a command uses: the one in a state directory, or a certificate and key the user brings.
struct CAOptions: ParsableArguments {
    @Option(name: .customLong("state-dir"), help: "The state directory that holds ca.crt and ca.key.")
    var stateDirectory: String = "./state"

    @Option(name: .customLong("ca-certificate"), help: "Your own CA certificate (PEM), instead of the state directory's.")
    var certificateFile: String?

    @Option(name: .customLong("ca-key"), help: "The private key (PEM, RSA or EC) of --ca-certificate.")
    var keyFile: String?

    func validate() throws {
        if (certificateFile == nil) != (keyFile == nil) {
            throw ValidationError("--ca-certificate and --ca-key go together")
        }
    }

    /// The store these options name.
    var store: CertificateAuthorityStore {
        if let certificateFile, let keyFile {
            return CertificateAuthorityStore(
                certificateFile: URL(fileURLWithPath: certificateFile), keyFile: URL(fileURLWithPath: keyFile)
            )
        }
        return CertificateAuthorityStore(stateDirectory: URL(fileURLWithPath: stateDirectory))
    }
}
