/// Validates hostnames and hostname globs and brings them to canonical form.
///
/// Allowed: ASCII letters, digits, `-`, `_` and `.`, plus `*` in globs. Labels are 1 to 63
/// characters, the whole name at most 253 (counted without the trailing dot, which is dropped),
/// and the last label is not all digits. Hyphens may appear anywhere in a label. Letters are
/// lower-cased; in a glob, runs of `*` collapse to one (`a**b` means `a*b`).
enum HostnameSyntax {
    typealias Reason = RuleTargetError.Reason

    /// The canonical form of a hostname (`isGlob == false`) or glob.
    static func canonical(_ text: Substring, isGlob: Bool) -> Result<String, Reason> {
        if let invalid = text.first(where: { !isAllowed($0, isGlob: isGlob) }) {
            return .failure(.invalidHostnameCharacter(invalid))
        }
        var name = text.lowercased()
        if name.hasSuffix(".") { name.removeLast() }
        if isGlob {
            name = collapsingStars(name)
        }
        guard name.utf8.count <= 253 else { return .failure(.nameTooLong(name.utf8.count)) }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        for label in labels {
            if label.isEmpty { return .failure(.emptyLabel) }
            if label.utf8.count > 63 { return .failure(.labelTooLong(String(label))) }
        }
        if let last = labels.last, last.allSatisfy(\.isASCIIDigit) {
            return .failure(.numericLastLabel(String(last)))
        }
        return .success(name)
    }

    /// Whether `text` (no brackets, colons or slashes) is made only of digits, dots and `*`, with
    /// at least one dot and one `*`: an IP address with a wildcard, which is refused.
    static func isWildcardAddress(_ text: Substring) -> Bool {
        text.contains(".") && text.contains("*")
            && text.allSatisfy { $0.isASCIIDigit || $0 == "." || $0 == "*" }
    }

    /// Whether `text` is made only of digits and dots, at least one digit, so that it can only be
    /// an IPv4 address.
    static func isNumeric(_ text: Substring) -> Bool {
        text.contains(where: \.isASCIIDigit) && text.allSatisfy { $0.isASCIIDigit || $0 == "." }
    }

    private static func isAllowed(_ character: Character, isGlob: Bool) -> Bool {
        guard character.isASCII else { return false }
        return character.isLetter || character.isASCIIDigit || character == "-" || character == "_"
            || character == "." || (isGlob && character == "*")
    }

    private static func collapsingStars(_ glob: String) -> String {
        var result = ""
        for character in glob where !(character == "*" && result.hasSuffix("*")) {
            result.append(character)
        }
        return result
    }
}

extension Character {
    /// Whether this is one of the ASCII digits 0 to 9.
    var isASCIIDigit: Bool {
        isASCII && isNumber
    }
}
