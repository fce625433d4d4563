import NIOHTTP1

/// The header fields of a message that describe one connection, not the message, so a proxy
/// does not pass them on (RFC 9110 §7.6.1): the hop-by-hop fields, and whatever fields the
/// message's `Connection` header lists.
///
/// Names compare ASCII-case-insensitively on their UTF-8 bytes, without lower-cased copies: this
/// runs for every field of every forwarded message. The usual `Connection` values (`keep-alive`,
/// `close`, `upgrade`) list nothing beyond the fixed set and cost no allocation.
struct HopByHopFields {
    /// The names the `Connection` header lists besides the fixed hop-by-hop fields, lower-cased
    /// (`http2-settings` of an h2c upgrade, say).
    private(set) var listedNames: [String] = []

    /// The fields of a message whose `Connection` header values are `connectionValues`.
    init(connectionValues: some Sequence<String>) {
        for value in connectionValues { addListed(value) }
    }

    /// The fields of a message with `headers` (NIO's wire head).
    init(_ headers: HTTPHeaders) {
        for (name, value) in headers where Self.name(name.utf8, is: "connection") { addListed(value) }
    }

    /// Notes the field names of one `Connection` value (a comma-separated list of tokens).
    private mutating func addListed(_ value: String) {
        // Token by token on slices of the bytes (`split` would allocate an array per value).
        let bytes = value.utf8
        let isSpace = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        var start = bytes.startIndex
        while start < bytes.endIndex {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: ",")) ?? bytes.endIndex
            let token = bytes[start..<end]
            start = end < bytes.endIndex ? bytes.index(after: end) : end
            guard let first = token.firstIndex(where: { !isSpace($0) }), let last = token.lastIndex(where: { !isSpace($0) }) else {
                continue
            }
            let name = token[first...last]
            // `close` is a connection option, not a field name; the rest are hop-by-hop anyway.
            if Self.isHopByHop(name) || Self.name(name, is: "close") { continue }
            listedNames.append(String(decoding: name, as: UTF8.self).lowercased())
        }
    }

    /// Whether the field `name` (any case) is not to be passed on.
    func contains(_ name: String) -> Bool {
        Self.isHopByHop(name.utf8) || listedNames.contains { Self.name(name.utf8, is: $0) }
    }

    /// Whether `name` (any case) is one of the fields that are always hop-by-hop.
    static func isHopByHop(_ name: some Collection<UInt8>) -> Bool {
        switch name.count {
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
        Self.name(name.utf8, is: lowercased)
    }

    /// Whether the UTF-8 bytes `name` (any case) spell `lowercased` (lower case).
    static func name(_ name: some Collection<UInt8>, is lowercased: String) -> Bool {
        guard name.count == lowercased.utf8.count else { return false }
        return zip(name, lowercased.utf8).allSatisfy { byte, lower in
            byte == lower || (byte | 0x20 == lower && lower >= UInt8(ascii: "a") && lower <= UInt8(ascii: "z"))
        }
    }
}
