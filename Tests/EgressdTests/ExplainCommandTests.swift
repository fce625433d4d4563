import EgressTesting
import Foundation
import Testing

@Suite(.enabled(if: Egressd.isBuilt, "egressd is not built; run `swift build` first (scripts/test does)"))
struct ExplainCommandTests {
    let directory: TemporaryDirectory
    let config: String

    init() throws {
        directory = try TemporaryDirectory()
        config = try directory.write("""
            internet: true
            rules:
              - https: "*.example.com"
                forward: { to: origin, setHeaders: { authorization: "Bearer s3cret" } }
              - http: "10.0.0.0/8:8080"
                deny: { status: 451 }
              - http: api.example.com
                respond: { body: "hi" }
            """, to: "egress.yaml")
    }

    @Test(arguments: [
        (["--https", "--host", "api.example.com", "--dst", "203.0.113.7:443"],
         "rule 1 (https: *.example.com) matches: forward to the original destination, setting authorization"),
        (["--http", "--host", "x", "--dst", "10.1.2.3:8080"], "rule 2 (http: 10.0.0.0/8:8080) matches: deny 451"),
        (["--http", "--host", "API.example.com.", "--dst", "198.51.100.9:80"], "rule 3 (http: api.example.com) matches: respond 200"),
        (["--http", "--host", "other.test", "--dst", "198.51.100.9:80"], "internet is on: the request is forwarded to 198.51.100.9:80"),
        (["--https", "--dst", "[2001:db8::1]:443"], "internet is on: the TLS connection is passed through unmodified"),
        (["--http", "--dst", "169.254.169.254:80"], "169.254.169.254:80 is a link-local (cloud metadata) destination: refused"),
    ])
    func explainsTheRuleAndAction(arguments: [String], expected: String) throws {
        let result = try Egressd.run(["explain", "--config", config] + arguments)
        #expect(result.status == 0, "\(result.combinedOutput)")
        #expect(result.standardOutput.contains(expected), "\(result.standardOutput)")
    }

    @Test func aBadConfigurationOrDestinationFailsClearly() throws {
        let bad = try directory.write("rules:\n  - http: \"10.*.0.1\"\n    deny: {}\n", to: "bad.yaml")
        let result = try Egressd.run(["explain", "--config", bad, "--http", "--dst", "10.0.0.1:80"])
        #expect(result.status != 0)
        #expect(result.standardError.contains("rules[0]: invalid rule target \"10.*.0.1\""), "\(result.standardError)")
        let wrongDestination = try Egressd.run(["explain", "--config", config, "--http", "--dst", "nowhere"])
        #expect(wrongDestination.status != 0)
        #expect(wrongDestination.standardError.contains("--dst \"nowhere\" is not ADDRESS:PORT"))
    }

    @Test func runRefusesABadConfigurationAtStart() throws {
        let bad = try directory.write("mode: sideways\n", to: "mode.yaml")
        let result = try Egressd.run(["run", "--config", bad])
        #expect(result.status != 0)
        #expect(result.standardError.contains("mode: \"sideways\" is neither redirect nor tproxy"), "\(result.standardError)")
    }
}
