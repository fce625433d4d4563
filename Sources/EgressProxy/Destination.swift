import EgressRules

/// An IP address and TCP port: where a redirected client meant to go, or where the proxy dials.
package struct Destination: Hashable, Sendable, CustomStringConvertible {
    package var address: IPAddress
    package var port: UInt16

    package init(address: IPAddress, port: UInt16) {
        self.address = address.normalized
        self.port = port
    }

    /// `203.0.113.7:443` or `[2001:db8::7]:443`.
    package var description: String {
        address.isIPv4 ? "\(address):\(port)" : "[\(address)]:\(port)"
    }
}
