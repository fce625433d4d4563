/// Validates hostnames and hostname globs and brings them to canonical form.
///
/// Allowed: ASCII letters, digits, `-`, `_` and `.`, plus `*` in globs. Labels are 1 to 63
/// characters, the whole name at most 253 (counted without the trailing dot, which is dropped),
/// and the last label is not all digits. Hyphens may appear anywhere in a label. Letters are
/// lower-cased; in a glob, runs of `*` collapse to one (`a**b` means `a*b`).
enum HostnameSyntax {
    typealias Reason = RuleTargetError.Reason

    private static let dot = UInt8(ascii: ".")
    private static let star = UInt8(ascii: "*")

    /// The canonical form of a hostname (`isGlob == false`) or glob.
    static func canonical(_ text: Substring, isGlob: Bool) -> Result<String, Reason> {
        if let invalid = text.utf8.firstIndex(where: { !isAllowed($0, isGlob: isGlob) }) {
            return .failure(.invalidHostnameCharacter(text[invalid...].first ?? "\u{FFFD}"))
        }
        var name: [UInt8] = []
        name.reserveCapacity(text.utf8.count)
        for byte in text.utf8 where !(byte == star && name.last == star) {
            name.append(HostnameBytes.fold(byte))
        }
        if name.last == dot { name.removeLast() }
        guard name.count <= 253 else { return .failure(.nameTooLong(name.count)) }
        var labelStart = 0
        for index in 0...name.count where index == name.count || name[index] == dot {
            let label = name[labelStart..<index]
            if label.isEmpty { return .failure(.emptyLabel) }
            if label.count > 63 { return .failure(.labelTooLong(String(decoding: label, as: UTF8.self))) }
            if index == name.count && label.allSatisfy(\.isASCIIDigit) {
                return .failure(.numericLastLabel(String(decoding: label, as: UTF8.self)))
            }
            labelStart = index + 1
        }
        return .success(String(decoding: name, as: UTF8.self))
    }

    /// Whether `text` (no brackets, colons or slashes) is made only of digits, dots and `*`, with
    /// at least one dot and one `*`: an IP address with a wildcard, which is refused.
    static func isWildcardAddress(_ text: Substring) -> Bool {
        text.contains(ascii: ".") && text.contains(ascii: "*")
            && text.allBytes { $0.isASCIIDigit || $0 == dot || $0 == star }
    }

    /// Whether `text` is made only of digits and dots, at least one digit, so that it can only be
    /// an IPv4 address.
    static func isNumeric(_ text: Substring) -> Bool {
        text.utf8.contains(where: \.isASCIIDigit) && text.allBytes { $0.isASCIIDigit || $0 == dot }
    }

    private static func isAllowed(_ byte: UInt8, isGlob: Bool) -> Bool {
        byte.isASCIILetter || byte.isASCIIDigit || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
            || byte == dot || (isGlob && byte == star)
    }
}
