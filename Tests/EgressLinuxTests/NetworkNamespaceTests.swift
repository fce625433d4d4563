import EgressLinux
import EgressRules
import EgressTesting
import Foundation
import Glibc
import Testing

/// Test namespaces: made, linked, used, and gone without a trace afterwards.
@Suite(.requiresRoot) struct NetworkNamespaceTests {
    @Test func aLinkedPairConnectsBothWaysAndLeavesNothingBehind() throws {
        let names = try useALinkedPair()
        let left = try NetworkNamespace.list()
        #expect(!left.contains(names[0]) && !left.contains(names[1]), "\(left)")
    }

    /// Links two namespaces and connects through them; returns their names once they are gone.
    private func useALinkedPair() throws -> [String] {
        let first = try NetworkNamespace()
        let second = try NetworkNamespace()
        let link = try NetworkNamespace.link(first, second)
        #expect(try NetworkNamespace.list().contains(first.name))

        // IPv4 and IPv6 across the link, with sockets made in each namespace by this process.
        for (address, source) in [(link.b.ipv4, link.a.ipv4), (link.b.ipv6, link.a.ipv6)] {
            let target = try #require(IPAddress(address))
            let listener = try NetworkNamespaceSockets.createListener(inNetworkNamespace: second.path, address: target, port: 0)
            defer { close(listener) }
            let port = try IPEndpoint.local(of: listener).port
            let client = try NetworkNamespaceSockets.createSocket(inNetworkNamespace: first.path, reaching: target)
            defer { close(client) }
            try TestSockets.connect(client, to: IPEndpoint(address: target, port: port))
            let accepted = try TestSockets.accept(listener)
            defer { close(accepted) }
            #expect(try IPEndpoint.peer(of: accepted).address == IPAddress(source))
            try TestSockets.write(client, Array("ping".utf8))
            #expect(try TestSockets.read(accepted) == Array("ping".utf8))
        }

        // A real client inside the first namespace reaches a server inside the second.
        let server = try second.spawn(["python3", "-u", "-c", """
            import socket
            s = socket.create_server(("\(link.b.ipv4)", 0))
            print("PORT", s.getsockname()[1], flush=True)
            c, _ = s.accept()
            c.sendall(b"hello from b")
            c.close()
            """])
        let port = try server.waitForLine(startingWith: "PORT ")
        let client = try first.runChecked(["python3", "-c", """
            import socket
            print(socket.create_connection(("\(link.b.ipv4)", \(port)), timeout=5).recv(100).decode())
            """], timeout: 15)
        #expect(client.standardOutput == "hello from b\n")

        // Nothing reaches beyond the link: no default route, no other addresses.
        let routes = try first.runChecked(["ip", "route", "show"]).standardOutput
        #expect(!routes.contains("default"), "\(routes)")
        #expect(!(try ProcessRunner.run("ip", ["link", "show"]).standardOutput.contains(link.a.interface)))
        server.stop()
        return [first.name, second.name]
    }

    @Test func removingKillsWhatRunsInside() throws {
        let namespace = try NetworkNamespace()
        let sleeper = try namespace.spawn(["sh", "-c", "echo inside; exec sleep 60"])
        _ = try sleeper.waitForLine(startingWith: "inside")
        #expect(!namespace.processes.isEmpty)
        namespace.remove()
        namespace.remove()
        let deadline = Date().addingTimeInterval(5)
        while sleeper.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        #expect(!sleeper.isRunning)
        #expect(!(try NetworkNamespace.list().contains(namespace.name)))
    }

    @Test func namesAreUnique() throws {
        let namespaces = try (0..<3).map { _ in try NetworkNamespace(prefix: "egt-unique") }
        #expect(Set(namespaces.map(\.name)).count == 3)
        #expect(namespaces.allSatisfy { $0.name.hasPrefix("egt-unique-\(getpid())-") })
        #expect(namespaces.allSatisfy { FileManager.default.fileExists(atPath: $0.path) })
    }
}
