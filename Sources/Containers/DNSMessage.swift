import NIOCore

/// Why bytes are not a DNS message this stub accepts; the text is for logs.
package enum DNSMessageError: Error, Sendable, Equatable {
    /// The message breaks the format, or uses a part of it the stub does not accept.
    case malformed(String)
}

/// A DNS response code (RFC 1035 §4.1.1).
package enum DNSResponseCode: UInt16, Sendable {
    /// NOERROR; without records it is NODATA.
    case noError = 0
    /// FORMERR: the query could not be read.
    case formatError = 1
    /// SERVFAIL: the name could not be looked up.
    case serverFailure = 2
    /// NXDOMAIN: the name does not exist.
    case nameError = 3
    /// NOTIMP: the opcode is not served.
    case notImplemented = 4
    /// REFUSED: the question is not one the stub answers (a class other than IN).
    case refused = 5
}

/// The record types and classes the stub knows by number.
package enum DNSRecordType {
    /// An IPv4 address.
    package static let a: UInt16 = 1
    /// An IPv6 address.
    package static let aaaa: UInt16 = 28
    /// The EDNS pseudo-record of the additional section (RFC 6891).
    package static let opt: UInt16 = 41
    /// The Internet class.
    package static let internetClass: UInt16 = 1
}

/// The fixed 12-byte header of a DNS message (RFC 1035 §4.1.1).
package struct DNSHeader: Sendable, Equatable {
    static let length = 12

    /// The query ID, echoed in the response.
    package var id: UInt16
    /// QR, opcode, AA, TC, RD, RA, Z, AD, CD and RCODE, as on the wire.
    package var flags: UInt16
    /// How many records each section holds (QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT).
    package var questionCount: UInt16
    package var answerCount: UInt16
    package var authorityCount: UInt16
    package var additionalCount: UInt16

    /// Whether the QR bit marks the message as a response.
    package var isResponse: Bool { flags & 0x8000 != 0 }
    /// The kind of query; 0 is a standard query.
    package var opcode: UInt16 { (flags >> 11) & 0xF }
    /// Whether the client asked for recursion (echoed in the response).
    package var recursionDesired: Bool { flags & 0x0100 != 0 }

    /// The header at the start of `message`, or nil if it is shorter than 12 bytes.
    init?(from message: ByteBuffer) {
        guard let (id, flags, questions, answers, authorities, additionals) = message.getMultipleIntegers(
            at: message.readerIndex, as: (UInt16, UInt16, UInt16, UInt16, UInt16, UInt16).self
        ) else { return nil }
        self.init(
            id: id, flags: flags, questionCount: questions, answerCount: answers, authorityCount: authorities,
            additionalCount: additionals
        )
    }

    init(id: UInt16, flags: UInt16, questionCount: UInt16, answerCount: UInt16, authorityCount: UInt16, additionalCount: UInt16) {
        self.id = id
        self.flags = flags
        self.questionCount = questionCount
        self.answerCount = answerCount
        self.authorityCount = authorityCount
        self.additionalCount = additionalCount
    }

    /// The header of a response to a query with this header: the same ID and opcode, QR and RA
    /// set, RD echoed, the given code; the counts are left at zero for the encoder to fill in.
    func response(code: DNSResponseCode, truncated: Bool = false) -> DNSHeader {
        let flags: UInt16 = 0x8000 | (flags & 0x7800) | (truncated ? 0x0200 : 0) | (flags & 0x0100) | 0x0080 | code.rawValue
        return DNSHeader(id: id, flags: flags, questionCount: 0, answerCount: 0, authorityCount: 0, additionalCount: 0)
    }

    func write(to buffer: inout ByteBuffer) {
        buffer.writeMultipleIntegers(id, flags, questionCount, answerCount, authorityCount, additionalCount)
    }
}

/// The question of a query (RFC 1035 §4.1.2).
package struct DNSQuestion: Sendable, Hashable {
    /// The name asked about.
    package var name: DNSName
    /// The record type asked for (QTYPE), ``DNSRecordType/a`` or another.
    package var type: UInt16
    /// The class asked for (QCLASS); only ``DNSRecordType/internetClass`` is answered.
    package var recordClass: UInt16

    package init(name: DNSName, type: UInt16, recordClass: UInt16 = DNSRecordType.internetClass) {
        self.name = name
        self.type = type
        self.recordClass = recordClass
    }
}
