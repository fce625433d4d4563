/// A block of IP addresses: an address and a prefix length, with the host bits cleared.
///
/// An IPv6 network that lies inside the IPv4-mapped range (`::ffff:0:0/96` or longer) is stored
/// as the IPv4 network it covers: `::ffff:10.0.0.0/104` is `10.0.0.0/8`. A wider IPv6 network
/// (such as `::/0`) holds only IPv6 addresses: it does not contain IPv4 addresses, which are
/// compared in their `.v4` form.
public struct IPNetwork: Hashable, Sendable {
    /// The first address of the network (host bits cleared), in normalised form.
    public let address: IPAddress
    /// The number of leading bits that are fixed: 0 to 32 for IPv4, 0 to 128 for IPv6.
    public let prefixLength: Int

    /// A network from an address and a prefix length, clearing any host bits of `address`;
    /// `nil` if the prefix length is negative or longer than the address (32 for IPv4, 128 for
    /// IPv6; a mapped address given as `.v6` takes IPv6 lengths, 96 to 128).
    public init?(address: IPAddress, prefixLength: Int) {
        switch address {
        case .v4(let value):
            guard (0...32).contains(prefixLength) else { return nil }
            self.init(ipv4: value, prefixLength: prefixLength)
        case .v6(let high, let low):
            guard (0...128).contains(prefixLength) else { return nil }
            self.init(ipv6: UInt128(high: high, low: low), prefixLength: prefixLength)
        }
    }

    /// An IPv4 network; `prefixLength` must be in 0...32.
    init(ipv4 value: UInt32, prefixLength: Int) {
        self.init(storing: .v4(value & IPNetwork.ipv4Mask(prefixLength)), prefixLength: prefixLength)
    }

    /// An IPv6 network, stored as IPv4 when it lies in the mapped range; `prefixLength` must be
    /// in 0...128.
    init(ipv6 value: UInt128, prefixLength: Int) {
        let masked = value & IPNetwork.ipv6Mask(prefixLength)
        if prefixLength >= 96 && masked >> 32 == IPAddress.mappedPrefix {
            self.init(ipv4: UInt32(truncatingIfNeeded: masked), prefixLength: prefixLength - 96)
        } else {
            self.init(storing: .v6(masked), prefixLength: prefixLength)
        }
    }

    private init(storing address: IPAddress, prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }

    /// The network that holds just `address`: a /32 or a /128.
    public init(singleAddress address: IPAddress) {
        switch address.normalized {
        case .v4(let value): self.init(ipv4: value, prefixLength: 32)
        case .v6(let high, let low): self.init(ipv6: UInt128(high: high, low: low), prefixLength: 128)
        }
    }

    /// Whether this network holds exactly one address.
    public var isSingleAddress: Bool {
        prefixLength == (address.isIPv4 ? 32 : 128)
    }

    /// Whether `address` lies in this network. An IPv4-mapped IPv6 address is compared in its
    /// IPv4 form.
    public func contains(_ address: IPAddress) -> Bool {
        switch (self.address, address.normalized) {
        case (.v4(let network), .v4(let value)):
            value & IPNetwork.ipv4Mask(prefixLength) == network
        case (.v6(let networkHigh, let networkLow), .v6(let high, let low)):
            UInt128(high: high, low: low) & IPNetwork.ipv6Mask(prefixLength) == UInt128(high: networkHigh, low: networkLow)
        default:
            false
        }
    }

    /// The mask of the first `length` bits of an IPv4 address, `length` in 0...32.
    @inline(__always)
    static func ipv4Mask(_ length: Int) -> UInt32 {
        length == 0 ? 0 : UInt32.max &<< UInt32(32 - length)
    }

    /// The mask of the first `length` bits of an IPv6 address, `length` in 0...128.
    @inline(__always)
    static func ipv6Mask(_ length: Int) -> UInt128 {
        length == 0 ? 0 : UInt128.max &<< UInt128(128 - length)
    }
}

extension IPNetwork: CustomStringConvertible {
    /// The canonical text, always with the prefix length: `10.0.0.0/8`, `fe80::/10`, `::1/128`.
    public var description: String {
        "\(address)/\(prefixLength)"
    }
}

extension IPNetwork {
    /// Parses `address/length` or a bare address (a /32 or /128), with the same rules as a rule
    /// target: a strict dotted quad or any IPv6 text form, a decimal prefix length within the
    /// family's bits, and no host bits set (`10.0.0.1/8` is refused, not masked). Brackets and
    /// ports are not part of this form. `::ffff:10.0.0.0/104` becomes `10.0.0.0/8`.
    public init?(_ text: String) {
        guard case .success(let network) = NetworkSyntax.parse(text[...]) else { return nil }
        self = network
    }
}
