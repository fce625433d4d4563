import EgressTesting
@testable import EgressProxy
import EgressLinux
import EgressRules
import NIOCore
import Testing
import Workers

@Suite struct DestinationGuardTests {
    @Test(arguments: [
        ("127.0.0.1", "loopback destination"), ("::1", "loopback destination"),
        ("169.254.169.254", "link-local (cloud metadata) destination"), ("fe80::1", "link-local destination"),
        ("0.0.0.0", "unspecified destination"), ("224.0.0.1", "multicast destination"), ("::ffff:127.0.0.1", "loopback destination"),
    ])
    func guardRefusesHostOnlyDestinations(address: String, reason: String) throws {
        let destination = IPEndpoint(address: try #require(IPAddress(address)), port: 80)
        #expect(DestinationGuard().refusal(for: destination) == reason)
    }

    @Test func guardAllowsConfiguredRangesAndPublicAddresses() throws {
        let loopback = IPEndpoint(address: try #require(IPAddress("127.0.0.1")), port: 9000)
        #expect(DestinationGuard(allowed: [try #require(IPNetwork("127.0.0.0/8"))]).refusal(for: loopback) == nil)
        #expect(DestinationGuard().refusal(for: IPEndpoint(address: try #require(IPAddress("203.0.113.7")), port: 443)) == nil)
    }

    /// A container must not reach the host's services through the host's own (non-loopback)
    /// addresses either: one of this namespace's global addresses is refused.
    @Test(.enabled(if: Self.globalAddress != nil, "this namespace has no global IPv4 address to try"))
    func guardRefusesTheHostsOwnAddresses() throws {
        let destination = IPEndpoint(address: try #require(IPAddress(Self.globalAddress ?? "")), port: 5432)
        #expect(DestinationGuard().refusal(for: destination) == "local address (of the proxy's host)")
    }

    /// A global IPv4 address of this namespace (`ip -o -4 addr show scope global`), if any.
    private static var globalAddress: String? {
        let interfaces = (try? ProcessRunner.run("ip", ["-o", "-4", "addr", "show", "scope", "global"]).standardOutput) ?? ""
        return interfaces.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            guard let index = fields.firstIndex(of: "inet"), index + 1 < fields.count else { return nil }
            return fields[index + 1].split(separator: "/").first.map(String.init)
        }.first
    }
}

@Suite struct InterceptionRulesTests {
    private struct Nothing: WorkerEntrypoint {
        func fetch(_ request: Request, context: WorkerContext<Void>) async throws -> Response { Response() }
    }

    @Test func interceptAllCoversPort80OfEveryAddressBothFamilies() throws {
        let rules = InterceptionRules(internet: false)
        rules.interceptAllOutboundHttp(Worker(Nothing(), name: "all"))
        let http = rules.snapshot.http
        for address in ["203.0.113.7", "10.1.2.3", "2001:db8::1", "::ffff:198.51.100.1"] {
            let ip = try #require(IPAddress(address))
            #expect(http.match(hostname: "any.example", address: ip, port: 80)?.value.name == "all", "\(address)")
            #expect(http.match(hostname: nil, address: ip, port: 8080) == nil, "\(address):8080")
        }
        #expect(rules.snapshot.https.count == 0)
    }

    @Test func anInvalidTargetRegistersNothing() {
        let rules = InterceptionRules(internet: true)
        #expect(throws: RuleTargetError.self) { try rules.interceptOutboundHttps("10.*.0.1", Worker(Nothing())) }
        #expect(rules.snapshot.https.count == 0)
    }

    /// A request routed under the rules it took is not affected by changes made meanwhile, and
    /// the next one sees them.
    @Test func rulesTakenStayAsTheyWereWhileTheRulesChange() throws {
        let rules = InterceptionRules(internet: false)
        try rules.interceptOutboundHttp("a.example", Worker(Nothing(), name: "a"))
        let taken = rules.current
        try rules.interceptOutboundHttp("b.example", Worker(Nothing(), name: "b"))
        rules.setInternet(true)
        let anywhere = try #require(IPAddress("203.0.113.7"))
        #expect(taken.snapshot.http.match(hostname: "b.example", address: anywhere, port: 80) == nil)
        #expect(taken.snapshot.http.match(hostname: "a.example", address: anywhere, port: 80)?.value.name == "a")
        #expect(!taken.snapshot.internet)
        #expect(rules.current.snapshot.http.match(hostname: "b.example", address: anywhere, port: 80)?.value.name == "b")
        #expect(rules.current.snapshot.internet)
    }

    @Test func manyRulesRegisteredOneByOneAreAllThere() throws {
        let rules = InterceptionRules(internet: false)
        for index in 0..<5_000 {
            try rules.interceptOutboundHttp("host\(index).example", Worker(Nothing(), name: "\(index)"))
        }
        let anywhere = try #require(IPAddress("203.0.113.7"))
        #expect(rules.snapshot.http.count == 5_000)
        #expect(rules.current.snapshot.http.match(hostname: "host4999.example", address: anywhere, port: 80)?.value.name == "4999")
    }
}
