import COpenSSL

/// A TLS failure, with the text of OpenSSL's error queue where OpenSSL reported one.
///
/// The `String` payloads are human-readable and meant for logs, for example
/// `certificate verify failed (unable to get local issuer certificate)`; match on the case,
/// not on the text.
public enum TLSError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Building a ``TLSContext`` failed: an unreadable certificate or key, a key that does not
    /// match the certificate, an invalid ALPN list, or an OpenSSL allocation failure.
    case configuration(String)

    /// The handshake failed: the peer's certificate did not verify, no common protocol version
    /// or cipher, a malformed handshake message, an alert from the peer, or the connection
    /// closed before the handshake finished.
    case handshakeFailed(String)

    /// The connection failed after the handshake: a corrupt record, a fatal alert from the peer.
    case connectionFailed(String)

    /// The peer closed the connection after the handshake without sending `close_notify`, so the
    /// data received so far may have been truncated by an attacker.
    case uncleanShutdown

    public var description: String {
        switch self {
        case .configuration(let reason):
            "TLS configuration failed: \(reason)"
        case .handshakeFailed(let reason):
            "handshake failed: \(reason)"
        case .connectionFailed(let reason):
            "TLS connection failed: \(reason)"
        case .uncleanShutdown:
            "TLS connection closed by the peer without close_notify (unclean shutdown)"
        }
    }
}

extension TLSError {
    /// Empties this thread's OpenSSL error queue and returns its entries, oldest first, joined
    /// with "; "; each entry is the reason text plus the detail OpenSSL attached, if any.
    ///
    /// Returns `fallback` when the queue is empty.
    static func drainErrorQueue(fallback: String) -> String {
        var entries: [String] = []
        while true {
            var data: UnsafePointer<CChar>?
            var flags: Int32 = 0
            let code = ERR_get_error_all(nil, nil, nil, &data, &flags)
            if code == 0 {
                break
            }
            var entry = reasonText(code)
            if flags & ERR_TXT_STRING != 0, let data, data.pointee != 0 {
                entry += " (\(String(cString: data)))"
            }
            entries.append(entry)
        }
        return entries.isEmpty ? fallback : entries.joined(separator: "; ")
    }

    /// The reason OpenSSL gives for one error code, or its full error string for codes whose
    /// library has no reason strings loaded.
    private static func reasonText(_ code: UInt) -> String {
        if let reason = ERR_reason_error_string(code) {
            return String(cString: reason)
        }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
