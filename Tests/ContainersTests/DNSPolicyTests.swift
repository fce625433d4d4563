import Synchronization
import XCTest

@testable import Containers

final class DNSPolicyTests: XCTestCase {
    private static let real = HostAddresses(ipv4: [0xC633_6407], ipv6: [0x2001_0DB8 << 96 | 7])  // 198.51.100.7, 2001:db8::7
    private let resolver = TableResolver([
        "intercepted.test": .success(real),
        "plain.test": .success(real),
        "v4only.intercepted.test": .success(HostAddresses(ipv4: [0xC633_6408])),
        "broken.test": .failure(.failed("timed out")),
        "broken.intercepted.test": .failure(.failed("timed out")),
        "empty.intercepted.test": .success(HostAddresses()),
    ])

    private func policy(internet: Bool) -> ContainerDNSPolicy {
        ContainerDNSPolicy(isIntercepted: { $0.hasSuffix("intercepted.test") }, internet: { internet })
    }

    private func answer(_ name: String, _ type: UInt16 = DNSRecordType.a, internet: Bool, recordClass: UInt16 = 1) async throws -> DNSAnswer {
        let question = DNSQuestion(name: try DNSWire.parsedQuery(name).question.name, type: type, recordClass: recordClass)
        return await policy(internet: internet).answer(question, resolver: resolver)
    }

    func testInterceptedWithInternetGetsTheHostAddresses() async throws {
        let answer = try await answer("Intercepted.TEST", internet: true)
        XCTAssertEqual(answer, .addresses(Self.real))
        XCTAssertEqual(resolver.asked, ["intercepted.test"], "looked up in lowercase without a trailing dot")
    }

    func testInterceptedWithInternetFallsBackToThePlaceholder() async throws {
        for name in ["missing.intercepted.test", "broken.intercepted.test", "empty.intercepted.test"] {
            let answer = try await answer(name, internet: true)
            XCTAssertEqual(answer, .addresses(ContainerDNSPolicy.placeholders), name)
        }
    }

    func testInterceptedWithOneFamilyGetsNoDataForTheOther() async throws {
        let answer = try await answer("v4only.intercepted.test", DNSRecordType.aaaa, internet: true)
        XCTAssertEqual(answer, .addresses(HostAddresses(ipv4: [0xC633_6408])), "the encoder sends no AAAA records: NODATA")
    }

    func testInterceptedWithoutInternetGetsThePlaceholderWithoutALookup() async throws {
        for type in [DNSRecordType.a, DNSRecordType.aaaa] {
            let answer = try await answer("intercepted.test.", type, internet: false)
            XCTAssertEqual(answer, .addresses(ContainerDNSPolicy.placeholders))
        }
        XCTAssertEqual(resolver.asked, [])
    }

    func testNotInterceptedWithInternetGetsTheHostAnswer() async throws {
        let found = try await answer("plain.test", DNSRecordType.aaaa, internet: true)
        XCTAssertEqual(found, .addresses(Self.real))
        let missing = try await answer("missing.test", internet: true)
        XCTAssertEqual(missing, DNSAnswer(.nameError))
        let broken = try await answer("broken.test", internet: true)
        XCTAssertEqual(broken, DNSAnswer(.serverFailure))
    }

    func testNotInterceptedWithoutInternetIsNXDomainWithoutALookup() async throws {
        for type: UInt16 in [DNSRecordType.a, DNSRecordType.aaaa, 15, 65] {
            let answer = try await answer("plain.test", type, internet: false)
            XCTAssertEqual(answer, DNSAnswer(.nameError))
        }
        XCTAssertEqual(resolver.asked, [])
    }

    func testLocalhostAlwaysResolvesToLoopback() async throws {
        for name in ["localhost", "LOCALHOST.", "app.localhost", "a.b.localhost."] {
            for internet in [true, false] {
                let answer = try await answer(name, internet: internet)
                XCTAssertEqual(answer, .addresses(HostAddresses(ipv4: [0x7F00_0001], ipv6: [1])), name)
            }
        }
        let lookalike = try await answer("notlocalhost", internet: false)
        XCTAssertEqual(lookalike, DNSAnswer(.nameError))
        XCTAssertEqual(resolver.asked, [])
    }

    func testOtherTypesGetNoDataWithoutALookup() async throws {
        // MX, TXT, HTTPS (65), SVCB (64).
        for type: UInt16 in [15, 16, 64, 65] {
            for (name, internet) in [("intercepted.test", true), ("intercepted.test", false), ("plain.test", true), ("missing.test", true)] {
                let answer = try await answer(name, type, internet: internet)
                XCTAssertEqual(answer.responseCode, .noError, "\(name) type \(type)")
            }
        }
        XCTAssertEqual(resolver.asked, [])
    }

    func testOtherClassesAreRefusedAndTheRootIsNoData() async throws {
        let chaos = try await answer("version.bind", 16, internet: true, recordClass: 3)
        XCTAssertEqual(chaos, DNSAnswer(.refused))
        let root = try await answer(".", internet: true)
        XCTAssertEqual(root, DNSAnswer(.noError))
    }

    func testInternetAndRulesAreReadForEachQuery() async throws {
        let internet = Atomic<Bool>(false)
        let intercepted = Mutex<Set<String>>([])
        let policy = ContainerDNSPolicy(isIntercepted: { name in intercepted.withLock { $0.contains(name) } }, internet: { internet.load(ordering: .relaxed) })
        let question = DNSQuestion(name: try DNSWire.parsedQuery("plain.test").question.name, type: DNSRecordType.a)
        let before = await policy.answer(question, resolver: resolver)
        XCTAssertEqual(before, DNSAnswer(.nameError))
        intercepted.withLock { _ = $0.insert("plain.test") }
        let ruleAdded = await policy.answer(question, resolver: resolver)
        XCTAssertEqual(ruleAdded, .addresses(ContainerDNSPolicy.placeholders))
        internet.store(true, ordering: .relaxed)
        let internetOn = await policy.answer(question, resolver: resolver)
        XCTAssertEqual(internetOn, .addresses(Self.real))
    }

    func testPlaceholdersAreTheDocumentedAddresses() {
        XCTAssertEqual(ContainerDNSPolicy.placeholderIPv4, 240 << 24 | 240 << 16 | 1, "240.240.0.1")
        XCTAssertEqual(ContainerDNSPolicy.placeholderIPv6, 0x0100_0000_0000_0000_0000_0000_0000_0001, "100::1")
    }
}
