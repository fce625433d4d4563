/// The UTF-8 bytes of a text, borrowed for the duration of a call.
typealias UTF8Bytes = UnsafeBufferPointer<UInt8>

/// Runs `body` on the UTF-8 bytes of `text`, without copying when its storage is contiguous
/// (native Swift strings, small ones included).
@inline(__always)
func withUTF8Bytes<Result>(of text: some StringProtocol, _ body: (UTF8Bytes) -> Result) -> Result {
    if let result = text.utf8.withContiguousStorageIfAvailable(body) {
        return result
    }
    return ContiguousArray(text.utf8).withUnsafeBufferPointer(body)
}

/// Why a text is not a dotted-quad IPv4 address; its description is part of a refusal message.
enum IPv4SyntaxFailure: Error, Equatable, CustomStringConvertible {
    /// A byte other than a decimal digit or a dot.
    case invalidCharacter
    /// Not exactly four parts; the count found.
    case partCount(Int)
    /// Two dots in a row, or a dot at either end.
    case emptyPart
    /// A part such as `01`: `inet_aton` reads it as octal, so it is rejected as ambiguous.
    case leadingZero(String)
    /// A part above 255.
    case octetOutOfRange(String)

    /// What is wrong, for a message.
    var description: String {
        switch self {
        case .invalidCharacter:
            "only digits and dots are allowed"
        case .partCount(let count):
            "it has \(count) part\(count == 1 ? "" : "s"), not 4"
        case .emptyPart:
            "a part is empty"
        case .leadingZero(let part):
            "the leading zero of \"\(part)\" is ambiguous (octal or decimal?)"
        case .octetOutOfRange(let part):
            "\(part) is out of range 0-255"
        }
    }
}

/// Strict parsers for the text forms of IP addresses, on UTF-8 bytes.
enum IPAddressSyntax {
    /// Parses a dotted quad: exactly four decimal parts of 0 to 255, without leading zeros.
    static func parseIPv4(_ bytes: UTF8Bytes) -> Result<UInt32, IPv4SyntaxFailure> {
        var value: UInt32 = 0
        var parts = 0
        var partStart = 0
        for index in 0...bytes.count {
            if index < bytes.count && bytes[index] != UInt8(ascii: ".") {
                if bytes[index].decimalDigitValue == nil { return .failure(.invalidCharacter) }
                continue
            }
            let part = UTF8Bytes(rebasing: bytes[partStart..<index])
            switch parseOctet(part) {
            case .success(let octet): value = value << 8 | UInt32(octet)
            case .failure(let failure): return .failure(failure)
            }
            parts += 1
            partStart = index + 1
        }
        return parts == 4 ? .success(value) : .failure(.partCount(parts))
    }

    /// Parses one part of a dotted quad, known to hold only decimal digits.
    private static func parseOctet(_ digits: UTF8Bytes) -> Result<UInt8, IPv4SyntaxFailure> {
        guard let first = digits.first else { return .failure(.emptyPart) }
        if first == UInt8(ascii: "0") && digits.count > 1 {
            return .failure(.leadingZero(String(decoding: digits, as: UTF8.self)))
        }
        var value = 0
        for digit in digits.prefix(4) {
            value = value * 10 + Int(digit &- UInt8(ascii: "0"))
        }
        guard digits.count <= 3, value <= 255 else {
            return .failure(.octetOutOfRange(String(decoding: digits, as: UTF8.self)))
        }
        return .success(UInt8(value))
    }

    /// Parses any RFC 4291 text form of an IPv6 address: eight groups of one to four hex digits,
    /// at most one `::` standing for one or more zero groups, and optionally a dotted quad in
    /// place of the last two groups. Zone ids (`%eth0`) are not accepted. The address is returned
    /// as written (`.v6`): IPv4-mapped addresses are not normalised here. (An `IPAddress?`, not a
    /// `UInt128?`: see ``IPAddress/v6(high:low:)`` on `UInt128` in enum payloads.)
    static func parseIPv6(_ bytes: UTF8Bytes) -> IPAddress? {
        let count = bytes.count
        guard count >= 2 else { return nil }
        var head: UInt128 = 0, headGroups = 0
        var tail: UInt128 = 0, tailGroups = 0
        var compressed = false
        var index = 0
        if bytes[0] == UInt8(ascii: ":") {
            guard bytes[1] == UInt8(ascii: ":") else { return nil }
            compressed = true
            index = 2
        }
        while index < count {
            var group: UInt128 = 0
            var end = index
            while end < count, end - index < 5, let digit = bytes[end].hexDigitValue {
                group = group << 4 | UInt128(digit)
                end += 1
            }
            var width = 1
            if end < count && bytes[end] == UInt8(ascii: ".") {
                guard case .success(let ipv4) = parseIPv4(UTF8Bytes(rebasing: bytes[index...])) else {
                    return nil
                }
                group = UInt128(ipv4)
                width = 2
                end = count
            } else if end == index || end - index > 4 {
                return nil
            }
            if compressed {
                tail = tail << (16 * width) | group
                tailGroups += width
            } else {
                head = head << (16 * width) | group
                headGroups += width
            }
            guard headGroups + tailGroups <= 8 else { return nil }
            if end == count { break }
            guard bytes[end] == UInt8(ascii: ":"), end + 1 < count else { return nil }
            index = end + 1
            if bytes[index] == UInt8(ascii: ":") {
                guard !compressed else { return nil }
                compressed = true
                index += 1
            }
        }
        let groups = headGroups + tailGroups
        if compressed {
            guard groups <= 7 else { return nil }
            return .v6(head << (16 * (8 - headGroups)) | tail)
        }
        return groups == 8 ? .v6(head) : nil
    }
}

extension IPAddress {
    /// Parses an address: a strict dotted quad (four decimal parts of 0 to 255; a part with a
    /// leading zero such as `01` is rejected, because `inet_aton` would read it as octal), or any
    /// RFC 4291 IPv6 text form including `::` and an embedded dotted quad. Zone ids (`%eth0`)
    /// and surrounding brackets are not accepted. An IPv4-mapped IPv6 address becomes `.v4`.
    public init?(_ text: String) {
        let parsed: IPAddress? = withUTF8Bytes(of: text) { bytes in
            if case .success(let value) = IPAddressSyntax.parseIPv4(bytes) {
                return .v4(value)
            }
            return IPAddressSyntax.parseIPv6(bytes)?.normalized
        }
        guard let parsed else { return nil }
        self = parsed
    }
}
