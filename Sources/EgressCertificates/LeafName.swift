import Foundation

/// The name a leaf certificate is minted for: a DNS name (lower-cased, trailing dot dropped,
/// optionally with a `*` first label) or an IP address. Validated, since it reaches the
/// certificate's subject and subjectAltName.
public struct LeafName: Hashable, Sendable, CustomStringConvertible {
    /// The canonical text: the DNS name, or the address as `inet_ntop` writes it.
    public let value: String
    /// Whether the name is an IPv4 or IPv6 address (subjectAltName IP) rather than a DNS name.
    public let isIPAddress: Bool

    /// Validates and normalises `text`, such as a TLS SNI or an address the client dialled.
    public init(_ text: String) throws(CertificateError) {
        if let address = Self.canonicalAddress(text) {
            value = address
            isIPAddress = true
            return
        }
        var name = text.lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        guard !name.isEmpty, name.utf8.count <= 253 else {
            throw CertificateError("invalid certificate name \"\(text)\": a DNS name has 1 to 253 characters")
        }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        for (index, label) in labels.enumerated() {
            if index == 0 && label == "*" && labels.count > 2 { continue }
            guard (1...63).contains(label.utf8.count),
                  label.utf8.allSatisfy(Self.isLabelByte),
                  label.utf8.first != UInt8(ascii: "-"), label.utf8.last != UInt8(ascii: "-")
            else {
                throw CertificateError(
                    "invalid certificate name \"\(text)\": label \"\(label)\" is not a DNS label "
                        + "(1 to 63 letters, digits, '-' or '_', not starting or ending with '-')"
                )
            }
        }
        value = name
        isIPAddress = false
    }

    public var description: String { value }

    private static func isLabelByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "_"):
            return true
        default:
            return false
        }
    }

    /// The canonical text of an IPv4 or IPv6 address (brackets allowed around IPv6), or nil.
    private static func canonicalAddress(_ text: String) -> String? {
        var candidate = Substring(text)
        if candidate.hasPrefix("["), candidate.hasSuffix("]") {
            candidate = candidate.dropFirst().dropLast()
        }
        for family in [AF_INET, AF_INET6] {
            var bytes = [UInt8](repeating: 0, count: 16)
            guard inet_pton(family, String(candidate), &bytes) == 1 else { continue }
            var output = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            guard inet_ntop(family, bytes, &output, socklen_t(output.count)) != nil else { return nil }
            return String(decoding: output.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return nil
    }
}
