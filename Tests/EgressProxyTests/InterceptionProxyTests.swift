import EgressProxy
import EgressTesting
import Testing

/// The library API's configuration: what it listens on by default, and that a bad address,
/// range or timeout is refused when the proxy is made, before anything runs.
@Suite struct InterceptionProxyTests {
    @Test func listensOnBothFamiliesByDefault() {
        #expect(InterceptionProxy.Configuration().listen == ["0.0.0.0:15001", "[::]:15001"])
    }

    /// Each is refused for what it is about, so that another failure (the CA, say) does not
    /// pass for it.
    @Test(arguments: [
        (["127.0.0.1"], [String](), "\"127.0.0.1\" is not ADDRESS:PORT (for IPv6, [ADDRESS]:PORT)"),
        (["localhost:15001"], [], "\"localhost:15001\" is not ADDRESS:PORT (for IPv6, [ADDRESS]:PORT)"),
        (["[::1]:99999"], [], "\"[::1]:99999\" is not ADDRESS:PORT (for IPv6, [ADDRESS]:PORT)"),
        (["127.0.0.1:15001"], ["10.0.0.0/33"], "allow: \"10.0.0.0/33\" is not an address or CIDR range"),
    ])
    func badAddressesAndRangesAreRefusedUpFront(listen: [String], allow: [String], message: String) throws {
        let directory = try TemporaryDirectory("egress-library")
        let error = #expect(throws: ProxySettingError.self) {
            try InterceptionProxy(configuration: .init(listen: listen, settings: .init(stateDirectory: directory.path("state"), allow: allow)))
        }
        #expect(error?.description == message)
    }

    @Test(arguments: [
        (Duration.zero, Duration.seconds(60), "sniffTimeout: 0.0 seconds is not a positive duration"),
        (.milliseconds(500), .seconds(-1), "idleTimeout: -1.0 seconds is not a positive duration"),
    ])
    func timeoutsMustBePositive(sniff: Duration, idle: Duration, message: String) throws {
        let directory = try TemporaryDirectory("egress-library")
        let error = #expect(throws: ProxySettingError.self) {
            try InterceptionProxy(configuration: .init(settings: .init(stateDirectory: directory.path("state"), sniffTimeout: sniff, idleTimeout: idle)))
        }
        #expect(error?.description == message)
    }
}
