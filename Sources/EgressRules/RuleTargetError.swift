/// Why a text was refused as a rule target; its ``description`` names the target and the reason:
/// `invalid rule target "10.*.0.1": wildcards are for hostnames; use a CIDR such as 10.0.0.0/8`.
public struct RuleTargetError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The text as it was given.
    public let target: String
    /// What is wrong with it.
    public let reason: Reason

    /// An error for `target` with `reason`.
    public init(target: String, reason: Reason) {
        self.target = target
        self.reason = reason
    }

    /// `invalid rule target "<target>": <reason>`.
    public var description: String {
        "invalid rule target \"\(target)\": \(reason)"
    }
}

extension RuleTargetError {
    /// The reasons a rule target is refused, each with a message that says what to write instead
    /// where there is an obvious fix.
    public enum Reason: Error, Hashable, Sendable, CustomStringConvertible {
        /// The text is empty.
        case empty
        /// The text holds a space, tab, newline or other whitespace.
        case whitespace
        /// Nothing before the `:` of a port.
        case missingHost
        /// Nothing after the `:` of a port.
        case missingPort
        /// The port holds something other than decimal digits.
        case portNotNumeric(String)
        /// The port is 0 or above 65535.
        case portOutOfRange(String)
        /// A `[` without its `]`.
        case unbalancedBracket
        /// A bracket anywhere but around an IPv6 address at the start.
        case misplacedBracket
        /// Text other than `:port` after the closing `]`.
        case textAfterBracket(String)
        /// Brackets around something that is not an IPv6 address or network.
        case bracketsNeedIPv6(String)
        /// A bare IPv6 address followed by what looks like a port; the fix is given.
        case ipv6PortNeedsBrackets(suggestion: String)
        /// Not a valid IPv6 address.
        case invalidIPv6(String)
        /// Not a valid IPv4 address, with the problem.
        case invalidIPv4(String, problem: String)
        /// Digits and dots that are no valid IPv4 address, and no hostname either because the last
        /// label of a hostname cannot be all digits.
        case numericHostname(String, problem: String)
        /// An IPv6 zone id such as `%eth0`.
        case zoneID
        /// A `*` in an IP address or network; a CIDR to use instead is suggested.
        case wildcardInAddress(suggestion: String)
        /// A `/` with nothing after it.
        case missingPrefixLength
        /// A prefix length that is not a decimal number.
        case prefixLengthNotNumeric(String)
        /// A prefix length longer than the address, with the family's maximum.
        case prefixLengthOutOfRange(String, maximum: Int)
        /// A prefix length after something that is not an IP address.
        case prefixLengthOnHostname(String)
        /// A network whose address has bits set past the prefix; the network meant is suggested.
        case hostBitsSet(String, suggestion: String)
        /// A character that hostnames do not allow.
        case invalidHostnameCharacter(Character)
        /// Two dots in a row, or a leading dot.
        case emptyLabel
        /// A label of more than 63 characters.
        case labelTooLong(String)
        /// A name of more than 253 characters, with its length.
        case nameTooLong(Int)
        /// A hostname whose last label is all digits, such as `example.123`.
        case numericLastLabel(String)

        /// The message, without the target.
        public var description: String {
            switch self {
            case .empty:
                "the target is empty"
            case .whitespace:
                "whitespace is not allowed"
            case .missingHost:
                "the host is missing before ':'"
            case .missingPort:
                "the port is missing after ':'"
            case .portNotNumeric(let port):
                "port \"\(port)\" is not a number"
            case .portOutOfRange(let port):
                "port \(port) is out of range 1-65535"
            case .unbalancedBracket:
                "'[' has no matching ']'"
            case .misplacedBracket:
                "brackets may only enclose an IPv6 address or network at the start, as in [::1]:8080"
            case .textAfterBracket(let text):
                "unexpected \"\(text)\" after ']'; only a :port may follow"
            case .bracketsNeedIPv6(let text):
                "brackets are only for IPv6 addresses and networks, and \"\(text)\" is not one"
            case .ipv6PortNeedsBrackets(let suggestion):
                "an IPv6 address with a port needs brackets, as in \(suggestion) (a bare IPv6 address has no port)"
            case .invalidIPv6(let text):
                "\"\(text)\" is not a valid IPv6 address"
            case .invalidIPv4(let text, let problem):
                "\"\(text)\" is not a valid IPv4 address: \(problem)"
            case .numericHostname(let text, let problem):
                "\"\(text)\" is not a valid IPv4 address (\(problem)), nor a hostname, whose last label cannot be all digits"
            case .zoneID:
                "IPv6 zone ids such as %eth0 are not supported"
            case .wildcardInAddress(let suggestion):
                "wildcards are for hostnames; use a CIDR such as \(suggestion)"
            case .missingPrefixLength:
                "the prefix length is missing after '/'"
            case .prefixLengthNotNumeric(let text):
                "prefix length \"\(text)\" is not a number"
            case .prefixLengthOutOfRange(let text, let maximum):
                "prefix length \(text) is out of range 0-\(maximum)"
            case .prefixLengthOnHostname(let text):
                "a prefix length needs an IP address, and \"\(text)\" is not one"
            case .hostBitsSet(let text, let suggestion):
                "\(text) has host bits set; did you mean \(suggestion)?"
            case .invalidHostnameCharacter(let character):
                "invalid character \"\(character)\" in hostname; hostnames allow letters, digits, '-', '_', '.', and '*' in globs (write internationalised names in their xn-- form)"
            case .emptyLabel:
                "empty label in hostname (a leading dot or two dots in a row)"
            case .labelTooLong(let label):
                "label \"\(label)\" is longer than 63 characters"
            case .nameTooLong(let length):
                "hostname is \(length) characters long; the limit is 253"
            case .numericLastLabel(let label):
                "the last label \"\(label)\" is all digits, which a hostname cannot end in"
            }
        }
    }
}
