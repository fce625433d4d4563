import CEgressLinux
import Glibc

/// An IPv4 or IPv6 address as host-order integers.
///
/// IPv6 is held as two 64-bit halves rather than one `UInt128`: values with `UInt128`'s 16-byte
/// alignment inside enum payloads are miscompiled into misaligned SSE stores on Linux x86_64 by
/// the Swift 6.3 toolchain in debug builds (a crash, not a wrong value).
public enum IPAddress: Sendable, Hashable, CustomStringConvertible {
    /// An IPv4 address: 203.0.113.10 is `0xCB00_710A`.
    case v4(UInt32)
    /// An IPv6 address: 2001:db8::10 is `high: 0x2001_0db8_0000_0000, low: 0x10`.
    case v6(high: UInt64, low: UInt64)

    /// An address family.
    public enum Family: Sendable, Hashable {
        case v4
        case v6

        /// `AF_INET` or `AF_INET6`.
        var socketFamily: Int32 {
            switch self {
            case .v4: AF_INET
            case .v6: AF_INET6
            }
        }
    }

    /// Parses dotted IPv4 ("203.0.113.10") or IPv6 text ("2001:db8::10"); `nil` for anything else.
    public init?(_ text: String) {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self.init(bytes: withUnsafeBytes(of: v4) { Array($0) })
        } else if inet_pton(AF_INET6, text, &v6) == 1 {
            self.init(bytes: withUnsafeBytes(of: v6) { Array($0) })
        } else {
            return nil
        }
    }

    /// The address of 4 or 16 bytes in network order; `nil` for any other count.
    public init?(bytes: [UInt8]) {
        switch bytes.count {
        case 4: self = .v4(bytes.reduce(0) { $0 << 8 | UInt32($1) })
        case 16:
            self = .v6(
                high: bytes[0..<8].reduce(0) { $0 << 8 | UInt64($1) },
                low: bytes[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
            )
        default: return nil
        }
    }

    /// The unspecified IPv4 address, 0.0.0.0.
    public static let anyV4 = IPAddress.v4(0)
    /// The unspecified IPv6 address, `::`.
    public static let anyV6 = IPAddress.v6(high: 0, low: 0)
    /// 127.0.0.1.
    public static let loopbackV4 = IPAddress.v4(0x7F00_0001)
    /// `::1`.
    public static let loopbackV6 = IPAddress.v6(high: 0, low: 1)

    /// 4 or 16 bytes in network order.
    public var bytes: [UInt8] {
        switch self {
        case .v4(let value): (0..<4).reversed().map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
        case .v6(let high, let low): [high, low].flatMap { half in
                (0..<8).reversed().map { UInt8(truncatingIfNeeded: half >> ($0 * 8)) }
            }
        }
    }

    /// The address's family.
    public var family: Family {
        switch self {
        case .v4: .v4
        case .v6: .v6
        }
    }

    /// The IPv4 address inside an IPv4-mapped IPv6 address (::ffff:a.b.c.d); any other address
    /// unchanged.
    public var unmapped: IPAddress {
        if case .v6(0, let low) = self, low >> 32 == 0xFFFF {
            return .v4(UInt32(truncatingIfNeeded: low))
        }
        return self
    }

    /// The usual text form: "203.0.113.10", "2001:db8::10".
    public var description: String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let bytes = bytes
        let family = family.socketFamily
        let formatted = bytes.withUnsafeBytes { raw in
            inet_ntop(family, raw.baseAddress, &text, socklen_t(text.count)) != nil
        }
        guard formatted else { return bytes.map(String.init).joined(separator: ".") }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
