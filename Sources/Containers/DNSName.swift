import NIOCore

/// A domain name as it travels in a DNS message (RFC 1035 §3.1, §4.1.4): a run of length-prefixed
/// labels ending in the empty root label, possibly continued by a compression pointer.
///
/// Labels keep the case they were sent in, since a response must echo the question exactly (some
/// resolvers randomise the case of their queries and check it); ``text`` is the lowercase dotted
/// form used for matching and lookups.
///
/// Only hostname characters are accepted in labels: ASCII letters, digits, `-` and `_`. Any other
/// byte (a dot, a space, a NUL, non-ASCII) makes the name malformed, so a name can never smuggle a
/// separator or a C string terminator into a rule match or a host lookup.
package struct DNSName: Sendable, Hashable {
    /// The longest name on the wire, length bytes and the root label included (RFC 1035 §2.3.4).
    static let maxWireLength = 255
    /// The longest label.
    static let maxLabelLength = 63

    /// The labels as sent, root label excluded; empty for the root name.
    package let labels: [[UInt8]]

    /// Builds a name from labels; each must be 1...63 hostname characters and the whole must fit
    /// in 255 bytes on the wire.
    package init(labels: [[UInt8]]) throws(DNSMessageError) {
        for label in labels {
            guard (1...Self.maxLabelLength).contains(label.count) else { throw .malformed("label of \(label.count) bytes") }
            guard label.allSatisfy(Self.isHostnameByte) else { throw .malformed("a label holds a byte outside letters, digits, - and _") }
        }
        guard labels.reduce(1, { $0 + 1 + $1.count }) <= Self.maxWireLength else { throw .malformed("name longer than 255 bytes") }
        self.labels = labels
    }

    /// The name in lowercase, labels joined by dots, without a trailing dot; `""` for the root.
    package var text: String {
        labels.map { String(decoding: $0.map(Self.lowercased), as: UTF8.self) }.joined(separator: ".")
    }

    /// How many bytes ``write(to:)`` writes.
    var wireLength: Int {
        labels.reduce(1) { $0 + 1 + $1.count }
    }

    /// Writes the name uncompressed, labels in their original case.
    func write(to buffer: inout ByteBuffer) {
        for label in labels {
            buffer.writeInteger(UInt8(label.count))
            buffer.writeBytes(label)
        }
        buffer.writeInteger(UInt8(0))
    }

    /// Reads the name that starts at `offset` in `message` and returns it with the offset just
    /// past it (past the first compression pointer, if any).
    ///
    /// Every pointer must point before the start of the run of labels it ends, so each jump goes
    /// strictly backwards and a pointer loop cannot form; a truncated name, a reserved label type
    /// (`01` or `10` in the top bits) or a name over 255 bytes is malformed.
    static func read(from message: ByteBuffer, at offset: Int) throws(DNSMessageError) -> (name: DNSName, end: Int) {
        var labels: [[UInt8]] = []
        var position = offset
        var runStart = offset
        var end: Int?
        var wireLength = 1
        while true {
            guard let length = message.getInteger(at: position, as: UInt8.self) else { throw .malformed("truncated name") }
            switch length >> 6 {
            case 0b00 where length == 0:
                return (try DNSName(labels: labels), end ?? position + 1)
            case 0b00:
                guard let label = message.getBytes(at: position + 1, length: Int(length)) else { throw .malformed("truncated label") }
                wireLength += 1 + label.count
                guard wireLength <= maxWireLength else { throw .malformed("name longer than 255 bytes") }
                labels.append(label)
                position += 1 + label.count
            case 0b11:
                guard let pointer = message.getInteger(at: position, as: UInt16.self) else { throw .malformed("truncated compression pointer") }
                let target = Int(pointer & 0x3FFF)
                guard target < runStart else { throw .malformed("compression pointer that does not point backwards") }
                end = end ?? position + 2
                position = target
                runStart = target
            default:
                throw .malformed("reserved label type")
            }
        }
    }

    private static func isHostnameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "_"):
            true
        default:
            false
        }
    }

    private static func lowercased(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
    }
}
