@testable import EgressConfiguration
import EgressProxy
import Testing

@Suite struct ProxyConfigurationTests {
    @Test func defaultsAndRelativePaths() throws {
        let configuration = try ProxyConfiguration.parse("stateDirectory: ./state\nupstream: { extraRoots: roots.pem }\n", relativeTo: "/etc/egress")
        #expect(configuration.internet)
        #expect(!configuration.proxy.transparentProxy)
        #expect(configuration.proxy.listen == ["0.0.0.0:15001", "[::]:15001"])
        #expect(configuration.proxy.settings.stateDirectory == "/etc/egress/state")
        #expect(configuration.proxy.settings.extraRoots == "/etc/egress/roots.pem")
        #expect(configuration.proxy.settings.sniffTimeout == .milliseconds(500))
        #expect(configuration.proxy.settings.idleTimeout == .seconds(60))
        #expect(configuration.handlerTimeout == .seconds(30))
    }

    @Test func everyKeyReachesTheProxysSettings() throws {
        let configuration = try ProxyConfiguration.parse("""
            listen: ["127.0.0.1:9", "[::1]:9"]
            mode: tproxy
            internet: false
            stateDirectory: /var/lib/egress
            ca: { certificate: ca.crt, key: /keys/ca.key }
            upstream: { mark: 0x539, extraRoots: /roots.pem, allow: ["127.0.0.0/8", "::1"] }
            env: { REGION: eu }
            timeouts: { handler: 2, sniff: 0.25, idle: 5 }
            """, relativeTo: "/etc/egress")
        #expect(configuration.proxy.listen == ["127.0.0.1:9", "[::1]:9"])
        #expect(configuration.proxy.transparentProxy)
        #expect(!configuration.proxy.internet)
        let proxy = configuration.proxy.settings
        #expect(proxy.stateDirectory == "/var/lib/egress")
        #expect(proxy.certificateAuthority?.certificate == "/etc/egress/ca.crt")
        #expect(proxy.certificateAuthority?.key == "/keys/ca.key")
        #expect(proxy.upstreamMark == 0x539)
        #expect(proxy.extraRoots == "/roots.pem")
        #expect(proxy.allow == ["127.0.0.0/8", "::1"])
        #expect(configuration.allow.map(\.description) == ["127.0.0.0/8", "::1/128"])
        #expect(proxy.env == ["REGION": "eu"])
        #expect(configuration.handlerTimeout == .seconds(2))
        #expect(proxy.sniffTimeout == .milliseconds(250))
        #expect(proxy.idleTimeout == .seconds(5))
    }

    @Test func rulesAndTheirActions() throws {
        let configuration = try ProxyConfiguration.parse("""
            rules:
              - http: api.example.com
                respond: { status: 201, headers: { content-type: text/plain }, body: hi }
              - https: "*.example.com"
                forward: { to: "https://127.0.0.1:9000/base/", setHeaders: { authorization: x }, removeHeaders: [cookie] }
              - http: "10.0.0.0/8:8080"
                deny: {}
            """, relativeTo: "/")
        #expect(configuration.rules.map(\.summary) == [
            "respond 201",
            "forward to https://127.0.0.1:9000/base, setting authorization, removing cookie",
            "deny 403",
        ])
        guard case .forward(let props) = configuration.rules[1].action else { Issue.record("not a forward"); return }
        #expect(props.destination == .url(usesTLS: true, authority: "127.0.0.1:9000", basePath: "/base"))
    }

    @Test(arguments: [
        ("mode: sideways", "mode: \"sideways\" is neither redirect nor tproxy"),
        ("listen: [nowhere]", "listen: \"nowhere\" is not ADDRESS:PORT"),
        ("rules: [{ http: a.example }]", "rules[0]: give exactly one of respond, forward or deny"),
        ("rules: [{ http: a.example, https: b.example, deny: {} }]", "rules[0]: give exactly one of http: TARGET or https: TARGET"),
        ("rules: [{ http: \"10.*.0.1\", deny: {} }]", "rules[0]: invalid rule target \"10.*.0.1\""),
        ("rules: [{ http: a.example, forward: { to: \"ftp://x\" } }]", "forward.to \"ftp://x\" is neither origin nor an http(s):// URL"),
        ("rules: [{ http: a.example, respond: { status: 99 } }]", "rules[0]: status 99 is not between 200 and 599"),
        ("upstream: { allow: [\"10.0.0.1/8\"] }", "upstream.allow[0]: \"10.0.0.1/8\" is not an address or CIDR range"),
        ("timeouts: { handler: 0 }", "timeouts.handler: 0.0 is not between 0 and 3600 seconds"),
        ("internet: maybe", "internet"),
    ])
    func badConfigurationsSayWhereAndWhy(text: String, message: String) {
        let error = #expect(throws: ConfigurationError.self) { try ProxyConfiguration.parse(text, relativeTo: "/") }
        #expect(error?.description.contains(message) == true, "\(error?.description ?? "no error")")
    }
}
