import NIOCore
import XCTest

@testable import Containers

final class DNSResponseEncodingTests: XCTestCase {
    private let allocator = ByteBufferAllocator()

    func testAnswersEchoTheQueryAndCarryRecords() throws {
        let query = try DNSWire.parsedQuery("WWW.Example.com")
        let answer = DNSAnswer.addresses(HostAddresses(ipv4: [0x5DB8_D822, 0x0A00_0001], ipv6: [1]))
        let response = try DecodedResponse(DNSResponse.encode(answer, to: query, allocator: allocator))
        XCTAssertEqual(response.id, 0xBEEF)
        XCTAssertEqual(response.flags, 0x8180, "QR, RD echoed, RA, NOERROR")
        XCTAssertEqual(response.questionName, DNSWire.name("WWW.Example.com"), "the question is echoed in its case")
        XCTAssertEqual(response.answers.map(\.type), [DNSRecordType.a, DNSRecordType.a], "only the family asked for")
        XCTAssertEqual(response.answers.map(\.data), [[93, 184, 216, 34], [10, 0, 0, 1]])
        XCTAssertEqual(response.answers.map(\.ttl), [DNSResponse.ttl, DNSResponse.ttl])
        XCTAssertEqual(response.additionalCount, 0)
    }

    func testAAAAAnswers() throws {
        let query = try DNSWire.parsedQuery("example.com", type: DNSRecordType.aaaa)
        let address: UInt128 = 0x2001_0DB8 << 96 | 0x42
        let response = try DecodedResponse(DNSResponse.encode(.addresses(HostAddresses(ipv4: [1], ipv6: [address])), to: query, allocator: allocator))
        XCTAssertEqual(response.answers.map(\.type), [DNSRecordType.aaaa])
        XCTAssertEqual(response.answers.first?.data, [0x20, 0x01, 0x0D, 0xB8] + Array(repeating: 0, count: 11) + [0x42])
    }

    func testErrorCodesWithoutRecords() throws {
        let query = try DNSWire.parsedQuery("example.com")
        for code in [DNSResponseCode.nameError, .refused, .serverFailure, .notImplemented, .formatError] {
            let response = try DecodedResponse(DNSResponse.encode(DNSAnswer(code), to: query, allocator: allocator))
            XCTAssertEqual(response.responseCode, code.rawValue)
            XCTAssertEqual(response.questionName, DNSWire.name("example.com"))
            XCTAssertTrue(response.answers.isEmpty)
        }
        let noData = try DecodedResponse(DNSResponse.encode(.addresses(HostAddresses(ipv4: [1])), to: try DNSWire.parsedQuery("example.com", type: 16), allocator: allocator))
        XCTAssertEqual(noData.responseCode, 0)
        XCTAssertTrue(noData.answers.isEmpty, "a TXT question gets no address records")
    }

    func testHeaderOnlyErrorResponse() throws {
        guard case .error(let code, let header, _) = DNSQuery.parse(ByteBuffer(bytes: DNSWire.header(id: 7, flags: 0x0000, questions: 0))) else {
            return XCTFail()
        }
        let response = try DecodedResponse(DNSResponse.error(code, replyingTo: header, allocator: allocator))
        XCTAssertEqual(response.id, 7)
        XCTAssertEqual(response.flags, 0x8081, "QR, RD not echoed as it was not set, RA, FORMERR")
        XCTAssertEqual(response.questionName, [])
    }

    func testTruncatesAt512BytesWithoutEDNS() throws {
        let many = HostAddresses(ipv4: (1...100).map { UInt32($0) }, ipv6: (1...100).map { UInt128($0) })
        for type in [DNSRecordType.a, DNSRecordType.aaaa] {
            let query = try DNSWire.parsedQuery("example.com", type: type)
            let encoded = DNSResponse.encode(.addresses(many), to: query, allocator: allocator)
            let response = try DecodedResponse(encoded)
            XCTAssertTrue(response.isTruncated)
            XCTAssertLessThanOrEqual(encoded.readableBytes, 512)
            let recordSize = type == DNSRecordType.a ? 16 : 28
            XCTAssertGreaterThan(encoded.readableBytes + recordSize, 512, "as many records as fit")
            XCTAssertEqual(response.answers.count, (512 - 12 - 13 - 4) / recordSize)
        }
        let few = try DecodedResponse(DNSResponse.encode(.addresses(HostAddresses(ipv4: [1, 2, 3])), to: try DNSWire.parsedQuery("example.com"), allocator: allocator))
        XCTAssertFalse(few.isTruncated)
    }

    func testEDNSRaisesTheLimitAndIsEchoed() throws {
        let many = HostAddresses(ipv4: (1...300).map { UInt32($0) })
        let fixed = 12 + 13 + 4 + 11  // header, question, OPT
        for (advertised, limit) in [(1232, 1232), (100, 512), (65000, 4096)] {
            let query = try DNSWire.parsedQuery("example.com", edns: UInt16(advertised))
            let encoded = DNSResponse.encode(.addresses(many), to: query, allocator: allocator)
            let response = try DecodedResponse(encoded)
            XCTAssertTrue(response.isTruncated, "\(advertised)")
            XCTAssertEqual(response.answers.count, (limit - fixed) / 16, "\(advertised) allows \(limit) bytes")
            XCTAssertEqual(response.additionalCount, 1)
            XCTAssertEqual(Array(encoded.readableBytesView.suffix(11)), [0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0], "OPT advertising 4096")
        }
        let fits = try DNSWire.parsedQuery("example.com", edns: 1232)
        let all = try DecodedResponse(DNSResponse.encode(.addresses(HostAddresses(ipv4: (1...60).map { UInt32($0) })), to: fits, allocator: allocator))
        XCTAssertFalse(all.isTruncated)
        XCTAssertEqual(all.answers.count, 60, "more than 512 bytes' worth, within the EDNS size")
    }
}
