import NIOCore
import XCTest

@testable import Containers

final class DNSQueryParsingTests: XCTestCase {
    func testReadsHeaderAndQuestion() throws {
        let query = try DNSWire.parsedQuery("Api.Example.COM", type: DNSRecordType.aaaa)
        XCTAssertEqual(query.header.id, 0xBEEF)
        XCTAssertTrue(query.header.recursionDesired)
        XCTAssertEqual(query.question.name.text, "api.example.com")
        XCTAssertEqual(query.question.name.labels.map { String(decoding: $0, as: UTF8.self) }, ["Api", "Example", "COM"], "case kept for the echo")
        XCTAssertEqual(query.question.type, DNSRecordType.aaaa)
        XCTAssertEqual(query.question.recordClass, 1)
        XCTAssertNil(query.ednsPayloadSize)
    }

    func testRootNameAndReaderIndexOffset() throws {
        var buffer = ByteBuffer(bytes: [0xAA, 0xBB])
        buffer.writeImmutableBuffer(DNSWire.query("."))
        buffer.moveReaderIndex(forwardBy: 2)
        guard case .query(let query) = DNSQuery.parse(buffer) else { return XCTFail("\(DNSQuery.parse(buffer))") }
        XCTAssertEqual(query.question.name.text, "")
        XCTAssertEqual(query.question.name.labels, [])
    }

    func testToleratesEDNSAndKeepsItsPayloadSize() throws {
        XCTAssertEqual(try DNSWire.parsedQuery("example.com", edns: 1232).ednsPayloadSize, 1232)
    }

    func testFollowsBackwardCompressionPointers() throws {
        // A query whose additional record names "www" plus a pointer back to the question's
        // name: read (and skipped) without complaint.
        var bytes = DNSWire.header(additionals: 1)
        bytes += DNSWire.name("example.com") + [0, 1, 0, 1]
        bytes += [3] + Array("www".utf8) + [0xC0, 12] + [0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 1, 2, 3, 4]
        guard case .query(let query) = DNSQuery.parse(ByteBuffer(bytes: bytes)) else { return XCTFail() }
        XCTAssertEqual(query.question.name.text, "example.com")

        let message = ByteBuffer(bytes: DNSWire.name("example.com") + [3] + Array("WWW".utf8) + [0xC0, 0])
        let (name, end) = try DNSName.read(from: message, at: 13)
        XCTAssertEqual(name.text, "www.example.com")
        XCTAssertEqual(end, message.writerIndex, "the name ends after its first pointer")
    }

    func testPointersChasingEachOtherAreMalformed() {
        // Offset 0 points to 4, whose label is followed by a pointer back to 0.
        let message = ByteBuffer(bytes: [0xC0, 4, 0, 0, 1, UInt8(ascii: "a"), 0xC0, 0])
        XCTAssertThrowsError(try DNSName.read(from: message, at: 4))
        XCTAssertThrowsError(try DNSName.read(from: message, at: 0))
    }

    func testMalformedQueriesGetFormatError() {
        let question: [UInt8] = DNSWire.name("example.com") + [0, 1, 0, 1]
        let label63: [UInt8] = [63] + Array(repeating: UInt8(ascii: "a"), count: 63)
        let label64: [UInt8] = [64] + Array(repeating: UInt8(ascii: "a"), count: 64) + [0, 0, 1, 0, 1]
        let longName: [UInt8] = label63 + label63 + label63 + label63 + [0, 0, 1, 0, 1]
        let cases: [(String, [UInt8])] = [
            ("no question", DNSWire.header(questions: 0)),
            ("two questions", DNSWire.header(questions: 2) + question + question),
            ("truncated name", DNSWire.header() + [7] + Array("exam".utf8)),
            ("name without root label", DNSWire.header() + [3] + Array("www".utf8)),
            ("missing type and class", DNSWire.header() + DNSWire.name("example.com") + [0, 1]),
            ("pointer to itself", DNSWire.header() + [0xC0, 12, 0, 1, 0, 1]),
            ("pointer forwards", DNSWire.header() + [0xC0, 14, 0, 1, 0, 1]),
            ("pointer loop", DNSWire.header() + [1, UInt8(ascii: "a"), 0xC0, 12, 0, 1, 0, 1]),
            ("truncated pointer", DNSWire.header() + [0xC0]),
            ("reserved label type", DNSWire.header() + [0x40, 0, 0, 1, 0, 1]),
            ("label of 64 bytes", DNSWire.header() + label64),
            ("name over 255 bytes", DNSWire.header() + longName),
            ("dot inside a label", DNSWire.header() + [3, UInt8(ascii: "a"), UInt8(ascii: "."), UInt8(ascii: "b"), 0, 0, 1, 0, 1]),
            ("NUL inside a label", DNSWire.header() + [2, UInt8(ascii: "a"), 0, 0, 0, 1, 0, 1]),
            ("additional record cut short", DNSWire.header(additionals: 1) + question + [0, 0, 41]),
            ("record data past the end", DNSWire.header(additionals: 1) + question + [0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 9, 1]),
            ("two OPT records", DNSWire.header(additionals: 2) + question + DNSWire.opt(payloadSize: 1232) + DNSWire.opt(payloadSize: 1232)),
            ("OPT in the answer section", DNSWire.header(answers: 1) + question + DNSWire.opt(payloadSize: 1232)),
        ]
        for (description, bytes) in cases {
            guard case .error(let code, let header, _) = DNSQuery.parse(ByteBuffer(bytes: bytes)) else {
                XCTFail("\(description): \(DNSQuery.parse(ByteBuffer(bytes: bytes)))")
                continue
            }
            XCTAssertEqual(code, .formatError, description)
            XCTAssertEqual(header.id, 0xBEEF, description)
        }
    }

    func testOtherOpcodesGetNotImplemented() {
        var bytes = Array(DNSWire.query("example.com").readableBytesView)
        bytes[2] |= 2 << 3  // opcode 2, STATUS
        guard case .error(.notImplemented, _, _) = DNSQuery.parse(ByteBuffer(bytes: bytes)) else { return XCTFail() }
    }

    func testDropsShortDatagramsAndResponses() {
        for bytes in [[], [0xBE, 0xEF, 1, 0], Array(DNSWire.header().prefix(11))] {
            guard case .drop = DNSQuery.parse(ByteBuffer(bytes: bytes)) else { return XCTFail("\(bytes)") }
        }
        guard case .drop = DNSQuery.parse(ByteBuffer(bytes: DNSWire.header(flags: 0x8180) + DNSWire.name("a.b") + [0, 1, 0, 1])) else {
            return XCTFail("a response must be dropped")
        }
    }

    func testRandomBytesNeverTrap() {
        var generator = SystemRandomNumberGenerator()
        let seed = Array(DNSWire.query("www.example.com", edns: 4096).readableBytesView)
        for _ in 0..<20_000 {
            var bytes = seed
            for _ in 0..<Int.random(in: 1...6, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &generator)))
            if case .query(let query) = DNSQuery.parse(ByteBuffer(bytes: bytes)) {
                _ = DNSResponse.encode(.addresses(HostAddresses(ipv4: [1])), to: query, allocator: ByteBufferAllocator())
            }
        }
    }
}
