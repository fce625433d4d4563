import COpenSSL

/// Why a certificate operation failed, in words meant for the person running Egress.
public struct CertificateError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The complete message, including what OpenSSL reported, if anything.
    public let description: String

    /// An error with a message of ours only.
    init(_ message: String) {
        self.description = message
    }

    /// An error whose message ends with the reasons on OpenSSL's error queue (which it drains).
    static func openSSL(_ message: String) -> CertificateError {
        let reasons = drainOpenSSLErrors()
        return CertificateError(reasons.isEmpty ? message : "\(message): \(reasons)")
    }
}

/// Empties this thread's OpenSSL error queue and returns its entries' reason strings.
func drainOpenSSLErrors() -> String {
    var reasons: [String] = []
    while true {
        let code = ERR_get_error()
        if code == 0 { break }
        if let reason = ERR_reason_error_string(code) {
            reasons.append(String(cString: reason))
        } else {
            reasons.append("error 0x\(String(code, radix: 16))")
        }
    }
    return reasons.joined(separator: "; ")
}
