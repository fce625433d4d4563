import EgressLinux
import EgressRules
import Foundation

/// The network of a container: its namespace has only loopback, every destination routes to
/// loopback, outbound TCP is redirected to the proxy's listener inside the namespace, UDP
/// reaches only loopback (the DNS stub), and nothing else leaves.
///
/// Set up from outside (the container's processes never hold `CAP_NET_ADMIN`) with `ip` and
/// `iptables-restore` run under `nsenter`; the listener and DNS sockets are made inside the
/// namespace and served by the proxy's own event loops.
struct ContainerNetwork {
    /// The port of the proxy's listener inside the container (REDIRECT target).
    static let proxyPort: UInt16 = 15001
    /// The DNS stub's port on the container's loopback.
    static let dnsPort: UInt16 = 53
    /// The container's own addresses (benchmarking and unique-local ranges, never routed here).
    static let ownAddresses = (v4: "198.18.0.1/32", v6: "fd65:6772:6573:7300::1/128")

    /// The proxy's listener (`[::]:15001`, IPv4 too).
    let listener: CInt
    /// The DNS stub's sockets (`127.0.0.1:53`, `[::1]:53`).
    let dnsSockets: [CInt]

    /// Sets up the namespace at `namespacePath`, writing the rule files to `workDirectory`.
    static func setUp(namespace namespacePath: String, workDirectory: String) throws(ContainerError) -> ContainerNetwork {
        let enter = ["nsenter", "--net=\(namespacePath)", "--"]
        // The container's own addresses sit on loopback too: resolvers asked for "addresses this
        // host can use" (AI_ADDRCONFIG) ignore 127.0.0.1 and ::1 and would find none.
        let routes = """
            link set lo up
            address add \(ownAddresses.v4) dev lo
            address add \(ownAddresses.v6) dev lo nodad
            route add default dev lo src 127.0.0.1
            route add ::/0 dev lo src ::1

            """
        let v4 = rules(inside: ["127.0.0.0/8", ownAddresses.v4])
        let v6 = rules(inside: ["::1/128", ownAddresses.v6])
        // Independent of each other, so they run at once (each iptables-restore takes ~30 ms).
        try SystemCommand.run([
            enter + ["ip", "-batch", write(routes, to: workDirectory + "/routes")],
            enter + ["iptables-restore", write(v4, to: workDirectory + "/rules.v4")],
            enter + ["ip6tables-restore", write(v6, to: workDirectory + "/rules.v6")],
        ])
        var made: [CInt] = []
        do {
            made.append(try NetworkNamespaceSockets.createListener(
                inNetworkNamespace: namespacePath, address: .anyV6, port: proxyPort, ipv6Only: false, backlog: 1024
            ))
            for address in [IPAddress.loopbackV4, .loopbackV6] {
                made.append(try NetworkNamespaceSockets.createDatagramSocket(inNetworkNamespace: namespacePath, address: address, port: dnsPort))
            }
        } catch {
            made.forEach { close($0) }
            throw .system("sockets in the container's network namespace: \(error)")
        }
        return ContainerNetwork(listener: made[0], dnsSockets: Array(made[1...]))
    }

    /// The filter and nat rules for one family: traffic to the container's own addresses
    /// (`inside`) stays inside, TCP goes to the proxy, other UDP is refused (the sender sees
    /// `EPERM`), everything else is dropped.
    static func rules(inside: [String]) -> String {
        let stay = inside.map { "-A OUTPUT -d \($0) -j RETURN" }.joined(separator: "\n")
        let accept = inside.map { "-A OUTPUT -d \($0) -j ACCEPT" }.joined(separator: "\n")
        return """
            *nat
            :OUTPUT ACCEPT [0:0]
            \(stay)
            -A OUTPUT -p tcp -j REDIRECT --to-ports \(proxyPort)
            COMMIT
            *filter
            :INPUT ACCEPT [0:0]
            :FORWARD DROP [0:0]
            :OUTPUT ACCEPT [0:0]
            \(accept)
            -A OUTPUT -p udp -j REJECT
            -A OUTPUT -j DROP
            COMMIT

            """
    }

    private static func write(_ text: String, to path: String) throws(ContainerError) -> String {
        do {
            try text.write(toFile: path, atomically: false, encoding: .utf8)
        } catch {
            throw .system("cannot write \(path): \(error)")
        }
        return path
    }
}
