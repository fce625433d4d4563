extension NetworkNamespace {
    /// Runs `iptables ARGUMENTS...` (IPv4) inside the namespace; throws with its output on failure.
    public func iptables(_ arguments: String...) throws {
        try runChecked(["iptables", "-w", "5"] + arguments)
    }

    /// Runs `ip6tables ARGUMENTS...` inside the namespace; throws with its output on failure.
    public func ip6tables(_ arguments: String...) throws {
        try runChecked(["ip6tables", "-w", "5"] + arguments)
    }

    /// Sends every outbound TCP connection made inside the namespace to `port` on its loopback,
    /// the way a container's traffic is sent to the proxy: nat OUTPUT rules for IPv4 and IPv6.
    ///
    /// Connections to loopback addresses are left alone (the namespace's own services, and the
    /// proxy's port itself, so nothing loops), and so are connections from sockets carrying
    /// `exceptMark` (`SO_MARK`), the proxy's own upstream sockets in standalone mode.
    public func redirectOutboundTCP(toPort port: UInt16, exceptMark mark: UInt32? = nil) throws {
        for (tool, loopback) in [("iptables", "127.0.0.0/8"), ("ip6tables", "::1/128")] {
            let rules: [[String]] = [
                mark.map { ["-m", "mark", "--mark", "\($0)", "-j", "RETURN"] },
                ["-d", loopback, "-j", "RETURN"],
                ["-p", "tcp", "-j", "REDIRECT", "--to-ports", "\(port)"],
            ].compactMap { $0 }
            for rule in rules {
                try runChecked([tool, "-w", "5", "-t", "nat", "-A", "OUTPUT"] + rule)
            }
        }
    }

    /// Routes `destination` (a CIDR of the test ranges) to the namespace's loopback, so that a
    /// connection to an address no host has is attempted, and caught by a REDIRECT rule, instead
    /// of failing at once with "Network is unreachable".
    public func routeToLoopback(_ destination: String) throws {
        if destination.contains(":") {
            try ip("-6", "route", "add", destination, "dev", "lo")
        } else {
            try ip("route", "add", destination, "dev", "lo", "src", "127.0.0.1")
        }
    }

    /// The rules of `table` for both families (`iptables-save`, `ip6tables-save`), for failure
    /// messages and checks.
    public func savedRules(table: String = "nat") throws -> String {
        let v4 = try runChecked(["iptables-save", "-t", table]).standardOutput
        let v6 = try runChecked(["ip6tables-save", "-t", table]).standardOutput
        return v4 + v6
    }
}
