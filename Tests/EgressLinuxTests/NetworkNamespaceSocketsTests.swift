import EgressLinux
import EgressRules
import EgressTesting
import Foundation
import Glibc
import Testing

/// Sockets made inside test namespaces by a helper thread, the caller's namespace untouched.
@Suite(.requiresRoot) struct NetworkNamespaceSocketsTests {
    private var threadNamespace: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self/ns/net")) ?? "unknown"
    }

    @Test func aListenerLivesInTheNamespaceAndTheCallerStaysHome() throws {
        let namespace = try NetworkNamespace()
        let before = threadNamespace
        let listener = try NetworkNamespaceSockets.createListener(
            inNetworkNamespace: namespace.path, address: .loopbackV4, port: 0, backlog: 16
        )
        defer { close(listener) }
        #expect(threadNamespace == before)
        let port = try IPEndpoint.local(of: listener).port
        #expect(port != 0)
        #expect(fcntl(listener, F_GETFL) & O_NONBLOCK != 0)
        #expect(fcntl(listener, F_GETFD) & FD_CLOEXEC != 0)
        // The namespace's own tools see it listening there.
        let listening = try namespace.runChecked(["ss", "-Hltn"]).standardOutput
        #expect(listening.contains("127.0.0.1:\(port)"), "\(listening)")
    }

    @Test func aSocketMadeInANamespaceUsesItsRoutes() throws {
        let a = try NetworkNamespace(), b = try NetworkNamespace()
        let link = try NetworkNamespace.link(a, b)
        let address = try #require(IPAddress(link.b.ipv6))
        let listener = try NetworkNamespaceSockets.createListener(
            inNetworkNamespace: b.path, address: address, port: 0, ipv6Only: true
        )
        defer { close(listener) }
        let socket = try NetworkNamespaceSockets.createSocket(inNetworkNamespace: a.path, reaching: address)
        defer { close(socket) }
        #expect(fcntl(socket, F_GETFL) & O_NONBLOCK != 0)
        try TestSockets.connect(socket, to: IPEndpoint.local(of: listener))
        #expect(try IPEndpoint.local(of: socket).address == IPAddress(link.a.ipv6))
    }

    @Test func failuresNameTheStep() throws {
        let missing = #expect(throws: LinuxError.self) {
            try NetworkNamespaceSockets.createSocket(inNetworkNamespace: "/run/netns/egt-no-such-namespace", reaching: .loopbackV4)
        }
        #expect(missing?.description == "open(network namespace): No such file or directory (errno 2)")
        #expect(throws: LinuxError(operation: "setns(CLONE_NEWNET)", code: EINVAL)) {
            try NetworkNamespaceSockets.createSocket(inNetworkNamespace: "/dev/null", reaching: .loopbackV4)
        }
        let namespace = try NetworkNamespace()
        let first = try NetworkNamespaceSockets.createListener(inNetworkNamespace: namespace.path, address: .anyV4, port: 0)
        defer { close(first) }
        let port = try IPEndpoint.local(of: first).port
        #expect(throws: LinuxError(operation: "bind", code: EADDRINUSE)) {
            try NetworkNamespaceSockets.createListener(inNetworkNamespace: namespace.path, address: .anyV4, port: port)
        }
        let elsewhere = try #require(IPAddress("203.0.113.10"))
        #expect(throws: LinuxError(operation: "bind", code: EADDRNOTAVAIL)) {
            try NetworkNamespaceSockets.createListener(inNetworkNamespace: namespace.path, address: elsewhere, port: 80)
        }
        // With IP_TRANSPARENT, binding an address that is not the namespace's own works.
        let transparent = try NetworkNamespaceSockets.createListener(
            inNetworkNamespace: namespace.path, address: elsewhere, port: 80, transparent: true
        )
        close(transparent)
    }
}
