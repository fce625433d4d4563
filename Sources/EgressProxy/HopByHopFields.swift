/// The header fields of a message that describe one connection, not the message, so a proxy
/// does not pass them on (RFC 9110 §7.6.1): the hop-by-hop fields, and whatever fields the
/// message's `Connection` header lists.
///
/// Names compare ASCII-case-insensitively without making lower-cased copies: this runs for every
/// field of every forwarded message.
struct HopByHopFields {
    /// Names the `Connection` header lists that are not hop-by-hop anyway, lower-cased.
    private var listed: [String] = []

    /// The fields of a message whose `Connection` header values are `connectionValues`.
    init(connectionValues: some Sequence<some StringProtocol>) {
        for value in connectionValues {
            for token in value.split(separator: ",") {
                var trimmed = Substring(token)
                while let first = trimmed.first, first == " " || first == "\t" { trimmed.removeFirst() }
                while let last = trimmed.last, last == " " || last == "\t" { trimmed.removeLast() }
                let name = trimmed.lowercased()
                if !name.isEmpty, !Self.isHopByHop(name) { listed.append(name) }
            }
        }
    }

    /// Whether the field `name` (any case) is not to be passed on.
    func contains(_ name: String) -> Bool {
        Self.isHopByHop(name) || listed.contains { Self.name(name, is: $0) }
    }

    /// Whether `name` (any case) is one of the fields that are always hop-by-hop.
    static func isHopByHop(_ name: String) -> Bool {
        switch name.utf8.count {
        case 2: return Self.name(name, is: "te")
        case 7: return Self.name(name, is: "trailer") || Self.name(name, is: "upgrade")
        case 10: return Self.name(name, is: "connection") || Self.name(name, is: "keep-alive")
        case 16: return Self.name(name, is: "proxy-connection")
        case 17: return Self.name(name, is: "transfer-encoding")
        case 18: return Self.name(name, is: "proxy-authenticate")
        case 19: return Self.name(name, is: "proxy-authorization")
        default: return false
        }
    }

    /// Whether `name` (any case) equals `lowercased` (lower case).
    static func name(_ name: String, is lowercased: String) -> Bool {
        guard name.utf8.count == lowercased.utf8.count else { return false }
        return zip(name.utf8, lowercased.utf8).allSatisfy { byte, lower in
            byte == lower || (byte | 0x20 == lower && lower >= UInt8(ascii: "a") && lower <= UInt8(ascii: "z"))
        }
    }
}
