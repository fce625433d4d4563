/// An IPv4 or IPv6 address.
///
/// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2) is the same address as its
/// IPv4 form. The initialisers produce `.v4` for it, and equality, hashing, ``description`` and
/// rule matching treat a `.v6` case that holds a mapped address as its `.v4` form, so rules and
/// queries written in either form meet. ``normalized`` returns the canonical case.
///
/// The older IPv4-compatible form (`::a.b.c.d`, deprecated by RFC 4291) is an ordinary IPv6
/// address.
public enum IPAddress: Sendable {
    /// An IPv4 address, most significant octet first (`10.0.0.1` is `0x0A00_0001`).
    case v4(UInt32)
    /// An IPv6 address in two halves, most significant first (`::1` is `high: 0, low: 1`).
    ///
    /// Two 64-bit halves rather than one `UInt128`: a `UInt128` (16-byte aligned) inside an enum
    /// payload is miscompiled into misaligned SSE loads and stores on Linux x86_64 by the Swift
    /// 6.3 toolchain in debug builds, which crash (`movaps` on an 8-byte aligned stack slot).
    case v6(high: UInt64, low: UInt64)
}

extension IPAddress {
    /// An IPv6 address from its 128-bit value, most significant byte first (`.v6(1)` is `::1`),
    /// as it is: a mapped address stays `.v6` (``init(ipv6:)`` normalises).
    public static func v6(_ value: UInt128) -> IPAddress {
        .v6(high: UInt64(truncatingIfNeeded: value >> 64), low: UInt64(truncatingIfNeeded: value))
    }

    /// The prefix of IPv4-mapped IPv6 addresses, `::ffff:0:0/96`, shifted right by 32 bits.
    static let mappedPrefix: UInt128 = 0xffff

    /// An IPv4 address from its 32-bit value, most significant octet first.
    public init(ipv4: UInt32) {
        self = .v4(ipv4)
    }

    /// An IPv4 address from its four octets, `IPAddress(ipv4: 10, 0, 0, 1)`.
    public init(ipv4 a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        self = .v4(UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d))
    }

    /// An IPv6 address from its 128-bit value; an IPv4-mapped address becomes `.v4`.
    public init(ipv6: UInt128) {
        self = IPAddress.v6(ipv6).normalized
    }

    /// An address from its bytes in network order, as found in `in_addr` (4 bytes) or
    /// `in6_addr` (16 bytes); `nil` for any other length. A mapped IPv6 address becomes `.v4`.
    ///
    /// Use it with `withUnsafeBytes(of: sockaddr.sin6_addr) { IPAddress(networkBytes: $0) }`.
    public init?(networkBytes bytes: some Collection<UInt8>) {
        switch bytes.count {
        case 4:
            self = .v4(bytes.reduce(0) { $0 << 8 | UInt32($1) })
        case 16:
            self.init(ipv6: bytes.reduce(0) { $0 << 8 | UInt128($1) })
        default:
            return nil
        }
    }

    /// The canonical case of this address: `.v4` for an IPv4-mapped IPv6 address, else itself.
    public var normalized: IPAddress {
        if case .v6(0, let low) = self, low >> 32 == UInt64(Self.mappedPrefix) {
            return .v4(UInt32(truncatingIfNeeded: low))
        }
        return self
    }

    /// Whether this is an IPv4 address (after normalisation).
    public var isIPv4: Bool {
        if case .v4 = normalized { return true }
        return false
    }
}

extension IPAddress: Hashable {
    /// Compares the normalised forms: `.v6(0xffff_0a00_0001)` equals `.v4(0x0a00_0001)`.
    public static func == (lhs: IPAddress, rhs: IPAddress) -> Bool {
        switch (lhs.normalized, rhs.normalized) {
        case (.v4(let a), .v4(let b)): a == b
        case (.v6(let aHigh, let aLow), .v6(let bHigh, let bLow)): aHigh == bHigh && aLow == bLow
        default: false
        }
    }

    /// Hashes the normalised form, consistent with ``==(_:_:)``.
    public func hash(into hasher: inout Hasher) {
        switch normalized {
        case .v4(let value):
            hasher.combine(4 as UInt8)
            hasher.combine(value)
        case .v6(let high, let low):
            hasher.combine(6 as UInt8)
            hasher.combine(high)
            hasher.combine(low)
        }
    }
}

extension IPAddress: CustomStringConvertible {
    /// The canonical text: dotted quad for IPv4, RFC 5952 for IPv6 (lower-case hex, no leading
    /// zeros, the longest run of two or more zero groups shortened to `::`, the first on a tie).
    public var description: String {
        switch normalized {
        case .v4(let value):
            return IPAddress.dottedQuad(value)
        case .v6(let high, let low):
            return IPAddress.rfc5952(UInt128(high: high, low: low))
        }
    }

    static func dottedQuad(_ value: UInt32) -> String {
        "\(value >> 24).\(value >> 16 & 0xff).\(value >> 8 & 0xff).\(value & 0xff)"
    }

    static func rfc5952(_ value: UInt128) -> String {
        let groups = (0..<8).map { UInt16(truncatingIfNeeded: value >> (112 - 16 * $0)) }
        let zeroRun = longestZeroRun(groups)
        var text = ""
        var index = 0
        while index < 8 {
            if let run = zeroRun, index == run.lowerBound {
                text += "::"
                index = run.upperBound
                continue
            }
            if !text.isEmpty && !text.hasSuffix(":") { text += ":" }
            text += String(groups[index], radix: 16)
            index += 1
        }
        return text
    }

    /// The first longest run of at least two zero groups, if any.
    private static func longestZeroRun(_ groups: [UInt16]) -> Range<Int>? {
        var best: Range<Int>?
        var start: Int?
        for index in 0...groups.count {
            if index < groups.count && groups[index] == 0 {
                if start == nil { start = index }
            } else if let runStart = start {
                if index - runStart >= 2 && index - runStart > (best?.count ?? 0) {
                    best = runStart..<index
                }
                start = nil
            }
        }
        return best
    }
}

extension UInt128 {
    /// The value whose upper 64 bits are `high` and lower 64 bits `low`: an IPv6 address's bits.
    @inline(__always)
    init(high: UInt64, low: UInt64) {
        self = UInt128(high) << 64 | UInt128(low)
    }
}
