/// An ordered list of ALPN protocol names (RFC 7301), most preferred first, with its wire format.
///
/// Pure Swift: the server's selection runs on bytes from the network, so it never traps on
/// malformed input; OpenSSL has already checked the extension, this checks again.
struct ALPNProtocols: Sendable, Equatable {
    /// The protocol names, most preferred first.
    let names: [String]

    /// The names as the TLS extension carries them: each prefixed with its one-byte length.
    let wireFormat: [UInt8]

    /// Validates `names`: each must be 1 to 255 bytes of UTF-8.
    init(_ names: [String]) throws(TLSError) {
        var wire: [UInt8] = []
        for name in names {
            let bytes = Array(name.utf8)
            guard (1...255).contains(bytes.count) else {
                throw TLSError.configuration("ALPN protocol name must be 1 to 255 bytes: \"\(name)\"")
            }
            wire.append(UInt8(bytes.count))
            wire.append(contentsOf: bytes)
        }
        self.names = names
        self.wireFormat = wire
    }

    /// The first of our names that the client also offered, as the byte range of that name
    /// (without its length prefix) inside `offered`, the client's wire-format list.
    ///
    /// Returns `nil` when nothing matches or `offered` is malformed.
    func select(fromOffered offered: UnsafeRawBufferPointer) -> Range<Int>? {
        guard let offeredNames = Self.parse(offered) else {
            return nil
        }
        for name in names {
            let bytes = Array(name.utf8)
            if let match = offeredNames.first(where: { offered[$0].elementsEqual(bytes) }) {
                return match
            }
        }
        return nil
    }

    /// Decodes one selected protocol name (the bytes OpenSSL reports, without a length prefix).
    static func decodeSelected(_ bytes: UnsafeRawBufferPointer) -> String? {
        guard !bytes.isEmpty else {
            return nil
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The byte ranges of each name in a wire-format list, or `nil` if the list is malformed
    /// (a zero length, or a length that runs past the end).
    static func parse(_ wire: UnsafeRawBufferPointer) -> [Range<Int>]? {
        var ranges: [Range<Int>] = []
        var index = 0
        while index < wire.count {
            let length = Int(wire[index])
            let start = index + 1
            guard length > 0, start + length <= wire.count else {
                return nil
            }
            ranges.append(start..<(start + length))
            index = start + length
        }
        return ranges
    }
}
