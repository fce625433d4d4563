// An interception proxy with handlers written in Swift: the library API end to end.
//
//   swift run egress-example --listen 127.0.0.1:15001 --state-dir ./state
//
// Point iptables REDIRECT at it (see the README), or use it as the tests do, inside a network
// namespace whose outbound TCP is redirected to it.

import ArgumentParser
import EgressProxy
import Logging
import ServiceLifecycle
import Workers

@main
struct HandlerExample: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "egress-example", abstract: "An interception proxy whose handlers are Swift types."
    )

    @Option(help: "Where to listen (repeat for more).")
    var listen: [String] = ["127.0.0.1:15001"]

    @Option(help: "The state directory (the CA is created there).")
    var stateDir = "./state"

    @Option(help: "SO_MARK for upstream sockets, for an iptables -m mark exemption.")
    var mark: UInt32?

    @Flag(help: "Let traffic no rule intercepts go out.")
    var internet = false

    func run() async throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        let logger = Logger(label: "egress")
        let proxy = try InterceptionProxy(
            configuration: .init(listen: listen, internet: internet, settings: .init(stateDirectory: stateDir, upstreamMark: mark)),
            logger: logger
        )
        try proxy.interceptOutboundHttp("hello.example", Worker(Greeter(), props: "a Swift handler"))
        try proxy.interceptOutboundHttps("hello.example", Worker(Greeter(), props: "a Swift handler, over TLS"))
        try proxy.interceptOutboundHttp("upload.example", Worker(UploadCounter()))
        try proxy.interceptOutboundHttp("download.example", Worker(Download()))
        try proxy.interceptOutboundHttps("download.example", Worker(Download()))
        try proxy.interceptOutboundHttp("annotated.example", Worker(Annotator()))
        try proxy.interceptOutboundHttp("throws.example", Worker(Failing()))
        try proxy.interceptOutboundHttp("hangs.example", Worker(Hanging(), timeout: .seconds(1)))
        let services = ServiceGroup(configuration: .init(
            services: [.init(service: proxy)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger
        ))
        try await services.run()
    }
}
