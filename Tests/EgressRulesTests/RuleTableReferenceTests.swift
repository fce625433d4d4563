import EgressRules
import Testing

/// Property tests: seeded random rule sets and queries, the indexed ``RuleTable`` against the
/// linear ``ReferenceRuleTable``. A failure names its seed; rerun with that seed to reproduce.
@Suite struct RuleTableReferenceTests {
    @Test(arguments: [
        (1 as UInt64, 5, 1500), (2, 40, 1500), (3, 300, 1500), (4, 1500, 1500), (5, 20, 1500), (6, 800, 1500),
        (7, 6000, 400),
    ])
    func agreesWithLinearReference(seed: UInt64, ruleCount: Int, queryCount: Int) throws {
        var random = RandomRules(seed: seed)
        let defaultPort: UInt16 = seed % 2 == 0 ? 80 : 443
        var table = RuleTable<Int>(defaultPort: defaultPort)
        var reference = ReferenceRuleTable(defaultPort: defaultPort)
        for value in 0..<ruleCount {
            let target = try RuleTarget(parsing: random.targetText())
            table.register(target, value)
            reference.register(target, value)
        }
        #expect(table.count == reference.rules.count)
        #expect(table.rules.map(\.target) == reference.rules.map(\.target))
        #expect(table.rules.map(\.value) == reference.rules.map(\.value))
        var matched = 0
        for _ in 0..<queryCount {
            let query = random.query()
            let found = table.match(hostname: query.hostname, address: query.address, port: query.port)
            let expected = reference.match(hostname: query.hostname, address: query.address, port: query.port)
            #expect(found?.position == expected?.position, "seed \(seed): \(query)")
            #expect(found?.value == expected?.value, "seed \(seed): \(query)")
            if let found, let expected {
                #expect(found.target == reference.rules[expected.position].target)
                matched += 1
            }
        }
        #expect(matched > queryCount / 10, "the pools should make many queries match (seed \(seed))")
    }

    @Test func canonicalDescriptionsParseBackToEqualTargets() throws {
        var random = RandomRules(seed: 42)
        for _ in 0..<2000 {
            let target = try RuleTarget(parsing: random.targetText())
            #expect(try RuleTarget(parsing: target.description) == target, "\(target)")
        }
    }

    @Test func referenceGlobMatcherSanity() {
        let bytes = { (text: String) in Array(text.utf8) }
        #expect(ReferenceRuleTable.globMatches(bytes("*.a.com"), bytes("x.a.com")))
        #expect(!ReferenceRuleTable.globMatches(bytes("*.a.com"), bytes("a.com")))
        #expect(ReferenceRuleTable.globMatches(bytes("*"), bytes("")))
        #expect(!ReferenceRuleTable.globMatches(bytes("a"), bytes("")))
    }
}
