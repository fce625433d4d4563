import NIOCore

/// A DNS query read from one datagram: its header, its one question and, when it carries an EDNS
/// OPT record, the UDP payload size the client accepts.
///
/// Reading never traps on hostile input: every length and pointer is checked against the bytes
/// received. Answer and authority records (none are expected in a query) are skipped; the
/// additional section may hold one OPT record, whose payload size is kept, and other records,
/// which are skipped.
package struct DNSQuery: Sendable, Equatable {
    package var header: DNSHeader
    package var question: DNSQuestion
    /// The UDP payload size of the query's EDNS OPT record; nil for a query without EDNS.
    package var ednsPayloadSize: UInt16?

    /// What a datagram turned out to be.
    package enum Parsed: Sendable, Equatable {
        /// A well-formed standard query.
        case query(DNSQuery)
        /// A message with a readable header that cannot be served: answer with this code
        /// (FORMERR for a malformed query, NOTIMP for an opcode other than QUERY).
        case error(DNSResponseCode, DNSHeader, reason: String)
        /// Not worth an answer: shorter than a header, or itself a response (answering those
        /// could start a loop between two DNS speakers).
        case drop(reason: String)
    }

    /// Reads the datagram's readable bytes as a DNS query.
    package static func parse(_ datagram: ByteBuffer) -> Parsed {
        // Compression pointers count from the start of the message: index from zero.
        let message = datagram.getSlice(at: datagram.readerIndex, length: datagram.readableBytes) ?? datagram
        guard let header = DNSHeader(from: message) else { return .drop(reason: "shorter than a DNS header") }
        guard !header.isResponse else { return .drop(reason: "a response, not a query") }
        guard header.opcode == 0 else { return .error(.notImplemented, header, reason: "opcode \(header.opcode)") }
        do {
            return .query(try read(message, header: header))
        } catch {
            switch error {
            case .malformed(let reason): return .error(.formatError, header, reason: reason)
            }
        }
    }

    private static func read(_ message: ByteBuffer, header: DNSHeader) throws(DNSMessageError) -> DNSQuery {
        guard header.questionCount == 1 else { throw .malformed("\(header.questionCount) questions instead of one") }
        let (name, nameEnd) = try DNSName.read(from: message, at: DNSHeader.length)
        guard let (type, recordClass) = message.getMultipleIntegers(at: nameEnd, as: (UInt16, UInt16).self) else {
            throw .malformed("truncated question")
        }
        var offset = nameEnd + 4
        let question = DNSQuestion(name: name, type: type, recordClass: recordClass)
        let additionalStart = Int(header.answerCount) + Int(header.authorityCount)
        var ednsPayloadSize: UInt16?
        for index in 0..<(additionalStart + Int(header.additionalCount)) {
            let record = try readRecordHead(message, at: offset)
            offset = record.end
            guard record.type == DNSRecordType.opt else { continue }
            guard index >= additionalStart, ednsPayloadSize == nil, record.name.labels.isEmpty else {
                throw .malformed("an OPT record out of place")
            }
            ednsPayloadSize = record.recordClass
        }
        return DNSQuery(header: header, question: question, ednsPayloadSize: ednsPayloadSize)
    }

    /// The owner name, type and class of the resource record at `offset`, and where it ends.
    private static func readRecordHead(
        _ message: ByteBuffer, at offset: Int
    ) throws(DNSMessageError) -> (name: DNSName, type: UInt16, recordClass: UInt16, end: Int) {
        let (name, fixedStart) = try DNSName.read(from: message, at: offset)
        // TYPE, CLASS, TTL and RDLENGTH, then RDLENGTH bytes of data.
        guard let (type, recordClass, _, dataLength) = message.getMultipleIntegers(
            at: fixedStart, as: (UInt16, UInt16, UInt32, UInt16).self
        ) else { throw .malformed("truncated resource record") }
        let end = fixedStart + 10 + Int(dataLength)
        guard end <= message.writerIndex else { throw .malformed("resource record data past the end") }
        return (name, type, recordClass, end)
    }
}
