import CEgressLinux
import EgressRules

/// The addresses of this process's network namespace, asked of the kernel.
public enum LocalAddresses {
    /// Whether `address` belongs to an interface of this network namespace (loopback included):
    /// a UDP socket can be bound to it. Costs a socket, a bind and a close; no traffic.
    public static func contains(_ address: IPAddress) -> Bool {
        var endpoint = IPEndpoint(address: address, port: 0).cValue
        return egress_is_local_address(&endpoint) == 1
    }
}
