/// Byte-level helpers for parsing rule targets and addresses. Every character that the syntax
/// gives meaning to is ASCII, so parsing works on UTF-8 bytes and never needs Unicode grapheme
/// or property look-ups except to name a non-ASCII character in an error message.
extension UInt8 {
    /// The value of an ASCII decimal digit, or `nil`.
    @inline(__always)
    var decimalDigitValue: UInt8? {
        let value = self &- UInt8(ascii: "0")
        return value < 10 ? value : nil
    }

    /// The value of an ASCII hexadecimal digit of either case, or `nil`.
    @inline(__always)
    var hexDigitValue: UInt8? {
        if let value = decimalDigitValue { return value }
        let letter = (self | 0x20) &- UInt8(ascii: "a")
        return letter < 6 ? letter + 10 : nil
    }

    /// Whether this is one of the ASCII digits 0 to 9.
    var isASCIIDigit: Bool {
        decimalDigitValue != nil
    }

    /// Whether this is an ASCII letter of either case.
    var isASCIILetter: Bool {
        (self | 0x20) &- UInt8(ascii: "a") < 26
    }

    /// Whether this is ASCII white space: tab, line feed, vertical tab, form feed, carriage
    /// return or space.
    var isASCIIWhitespace: Bool {
        self == UInt8(ascii: " ") || self &- 0x09 < 5
    }
}

extension StringProtocol {
    /// Whether the text holds white space of any kind, Unicode white space included.
    var containsWhitespace: Bool {
        if utf8.allSatisfy({ $0 < 0x80 }) {
            return utf8.contains(where: \.isASCIIWhitespace)
        }
        return contains(where: \.isWhitespace)
    }
}

extension Substring {
    /// The index of the first occurrence of an ASCII character.
    func firstIndex(ofASCII character: Unicode.Scalar) -> Index? {
        utf8.firstIndex(of: UInt8(ascii: character))
    }

    /// The index of the last occurrence of an ASCII character.
    func lastIndex(ofASCII character: Unicode.Scalar) -> Index? {
        utf8.lastIndex(of: UInt8(ascii: character))
    }

    /// Whether the text holds an ASCII character.
    func contains(ascii character: Unicode.Scalar) -> Bool {
        utf8.contains(UInt8(ascii: character))
    }

    /// Whether every UTF-8 byte of the text satisfies `predicate`.
    func allBytes(_ predicate: (UInt8) -> Bool) -> Bool {
        utf8.allSatisfy(predicate)
    }
}
