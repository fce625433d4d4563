import Foundation

/// Where a ``CertificateAuthority`` lives on disk: `ca.crt` and `ca.key` in a state directory
/// (mode 0700, the key 0600), or a certificate and key the user names.
///
/// A pair that is there is only ever read: a corrupt or mismatched pair is refused, never
/// replaced. A new CA is generated only when neither file exists.
public struct CertificateAuthorityStore: Sendable {
    /// The PEM certificate file.
    public let certificateFile: URL
    /// The PEM private key file.
    public let keyFile: URL
    /// The state directory this store creates files in, or nil for a pair the user brings.
    public let stateDirectory: URL?

    /// The store of a state directory: `DIR/ca.crt` and `DIR/ca.key`.
    public init(stateDirectory: URL) {
        self.stateDirectory = stateDirectory
        self.certificateFile = stateDirectory.appendingPathComponent("ca.crt")
        self.keyFile = stateDirectory.appendingPathComponent("ca.key")
    }

    /// A CA the user brings (PEM certificate and key, RSA or EC); it is never created or written.
    public init(certificateFile: URL, keyFile: URL) {
        self.stateDirectory = nil
        self.certificateFile = certificateFile
        self.keyFile = keyFile
    }

    /// Loads the pair, refusing a missing, corrupt or mismatched one.
    public func load(now: Date = Date()) throws(CertificateError) -> CertificateAuthority {
        let certificate = try parse(certificateFile, with: Certificate.init(pem:))
        let key = try parse(keyFile, with: PrivateKey.init(pem:))
        do {
            return try CertificateAuthority(certificate: certificate, privateKey: key, now: now)
        } catch {
            throw CertificateError("\(certificateFile.path) and \(keyFile.path): \(error)")
        }
    }

    /// Loads the pair, or generates and writes a new CA if neither file exists (state directory
    /// stores only). Returns the CA and whether it was created now.
    public func loadOrCreate(now: Date = Date()) throws(CertificateError) -> (authority: CertificateAuthority, created: Bool) {
        guard let stateDirectory else { return (try load(now: now), false) }
        let haveCertificate = FileManager.default.fileExists(atPath: certificateFile.path)
        let haveKey = FileManager.default.fileExists(atPath: keyFile.path)
        if haveCertificate != haveKey {
            let (present, missing) = haveCertificate ? (certificateFile, keyFile) : (keyFile, certificateFile)
            throw CertificateError(
                "\(present.path) exists but \(missing.path) does not; refusing to replace half a CA "
                    + "(restore the missing file, or remove both to generate a new CA)"
            )
        }
        if haveCertificate { return (try load(now: now), false) }
        try prepare(directory: stateDirectory)
        let authority = try CertificateAuthority.generate(now: now)
        try write(try authority.privateKey.pemString(), to: keyFile, mode: 0o600)
        try write(try authority.certificate.pemString(), to: certificateFile, mode: 0o644)
        return (authority, true)
    }

    /// Reads `file` and parses it with `parser`; errors name the file.
    private func parse<Value>(
        _ file: URL, with parser: (String) throws(CertificateError) -> Value
    ) throws(CertificateError) -> Value {
        let text: String
        do {
            text = try String(contentsOf: file, encoding: .utf8)
        } catch {
            throw CertificateError("cannot read \(file.path): \(Self.reason(error))")
        }
        do {
            return try parser(text)
        } catch {
            throw CertificateError("\(file.path): \(error)")
        }
    }

    /// Creates the directory (mode 0700) or tightens an existing one to 0700: it holds the CA key.
    private func prepare(directory: URL) throws(CertificateError) {
        do {
            try FileManager.default.createDirectory(
                at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]
            )
            try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory.path)
        } catch {
            throw CertificateError("cannot create the state directory \(directory.path): \(Self.reason(error))")
        }
    }

    /// Writes a new file with `mode` from the start; fails rather than replace an existing one.
    private func write(_ text: String, to file: URL, mode: mode_t) throws(CertificateError) {
        let descriptor = open(file.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else {
            throw CertificateError("cannot create \(file.path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var remaining = Array(text.utf8)[...]
        while !remaining.isEmpty {
            let written = remaining.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else {
                throw CertificateError("cannot write \(file.path): \(String(cString: strerror(errno)))")
            }
            remaining = remaining.dropFirst(written)
        }
        guard fsync(descriptor) == 0 else {
            throw CertificateError("cannot sync \(file.path): \(String(cString: strerror(errno)))")
        }
    }

    private static func reason(_ error: any Error) -> String {
        (error as NSError).localizedFailureReason ?? error.localizedDescription
    }
}
