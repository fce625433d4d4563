import NIOCore

/// What the stub answers to one question: a response code and, for NOERROR, the addresses.
///
/// The addresses of the family the question asked for become its answer records: IPv4 ones for
/// an A question, IPv6 ones for AAAA; a NOERROR answer without records is NODATA (the name
/// exists, without records of that type).
package struct DNSAnswer: Sendable, Equatable {
    /// The RCODE of the response.
    package var responseCode: DNSResponseCode
    /// The addresses to answer with; only the family asked for is sent.
    package var addresses: HostAddresses

    /// An answer with `responseCode`, and `addresses` for a NOERROR one.
    package init(_ responseCode: DNSResponseCode, addresses: HostAddresses = HostAddresses()) {
        self.responseCode = responseCode
        self.addresses = addresses
    }

    /// NOERROR with `addresses`.
    package static func addresses(_ addresses: HostAddresses) -> DNSAnswer {
        DNSAnswer(.noError, addresses: addresses)
    }
}

/// Encodes the stub's responses.
///
/// Every response echoes the query's ID, opcode and RD bit, sets QR and RA (the stub resolves
/// recursively on the client's behalf) and leaves AA clear. A query with an EDNS OPT record gets
/// one back (RFC 6891 §6.1.1), advertising ``ednsPayloadLimit``.
package enum DNSResponse {
    /// The TTL of every answer record, in seconds. Short, because the answer depends on rules and
    /// on the container's internet switch, which change while it runs and apply to the next
    /// query. Negative answers carry no SOA record, so clients do not cache them at all
    /// (RFC 2308 §5).
    package static let ttl: UInt32 = 5
    /// The largest response to a client without EDNS (RFC 1035 §4.2.1).
    static let classicPayloadLimit = 512
    /// The largest response to an EDNS client, whatever it advertises, and what the stub
    /// advertises. It never leaves loopback, so fragmentation is not a concern.
    static let ednsPayloadLimit: UInt16 = 4096
    /// An A record with a compressed owner name: pointer, type, class, TTL, length, 4 bytes.
    private static let recordOverhead = 2 + 2 + 2 + 4 + 2
    /// The OPT record: root name, type, class, TTL, empty data.
    private static let optRecordLength = 1 + 2 + 2 + 4 + 2

    /// A response without a question: for a message whose question could not be read (FORMERR)
    /// or whose opcode is not served (NOTIMP).
    package static func error(_ code: DNSResponseCode, replyingTo header: DNSHeader, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: DNSHeader.length)
        header.response(code: code).write(to: &buffer)
        return buffer
    }

    /// The response that answers `query` with `answer`: the question echoed as sent (case
    /// included), then one record per address of the family asked for. When the records do not
    /// all fit in the client's payload size (512 bytes without EDNS), the ones that fit are sent
    /// and the TC bit is set.
    package static func encode(_ answer: DNSAnswer, to query: DNSQuery, allocator: ByteBufferAllocator) -> ByteBuffer {
        let question = query.question
        let records: [[UInt8]] = switch question.type {
        case DNSRecordType.a: answer.addresses.ipv4.map { withUnsafeBytes(of: $0.bigEndian) { Array($0) } }
        case DNSRecordType.aaaa: answer.addresses.ipv6.map { withUnsafeBytes(of: $0.bigEndian) { Array($0) } }
        default: []
        }
        let limit = query.ednsPayloadSize.map { Int(min(max($0, UInt16(classicPayloadLimit)), ednsPayloadLimit)) } ?? classicPayloadLimit
        var size = DNSHeader.length + question.name.wireLength + 4 + (query.ednsPayloadSize == nil ? 0 : optRecordLength)
        var fitting = 0
        for record in records {
            size += recordOverhead + record.count
            guard size <= limit else { break }
            fitting += 1
        }

        var header = query.header.response(code: answer.responseCode, truncated: fitting < records.count)
        header.questionCount = 1
        header.answerCount = UInt16(fitting)
        header.additionalCount = query.ednsPayloadSize == nil ? 0 : 1
        var buffer = allocator.buffer(capacity: size)
        header.write(to: &buffer)
        question.name.write(to: &buffer)
        buffer.writeMultipleIntegers(question.type, question.recordClass)
        for record in records.prefix(fitting) {
            // The owner name is the question's, at offset 12: a compression pointer to it.
            buffer.writeMultipleIntegers(UInt16(0xC000 | DNSHeader.length), question.type, DNSRecordType.internetClass, ttl, UInt16(record.count))
            buffer.writeBytes(record)
        }
        if query.ednsPayloadSize != nil {
            // Root owner, type OPT, class = payload size, TTL = extended RCODE 0, version 0, no flags.
            buffer.writeMultipleIntegers(UInt8(0), DNSRecordType.opt, ednsPayloadLimit, UInt32(0), UInt16(0))
        }
        return buffer
    }
}
