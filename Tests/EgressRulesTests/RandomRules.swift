import EgressRules

/// Random rule target texts and queries drawn from small pools, so that rules overlap, collide
/// and match often: names, globs of every shape, IPv4 and IPv6 networks and addresses (some in
/// IPv4-mapped form), with and without ports, in random case and with trailing dots.
struct RandomRules {
    var generator: SeededGenerator

    static let labels = ["a", "b", "api", "www", "x1", "cdn", "api-v1", "e_x", "shop", "eu"]
    static let topLevels = ["com", "net", "org", "io"]
    static let ports: [UInt16] = [80, 443, 8080, 8443]

    init(seed: UInt64) {
        generator = SeededGenerator(seed: seed)
    }

    private mutating func pick<T>(_ values: [T]) -> T {
        values[Int.random(in: 0..<values.count, using: &generator)]
    }

    private mutating func chance(_ percent: Int) -> Bool {
        Int.random(in: 0..<100, using: &generator) < percent
    }

    mutating func hostname() -> String {
        let count = Int.random(in: 1...3, using: &generator)
        return ((0..<count).map { _ in pick(Self.labels) } + [pick(Self.topLevels)]).joined(separator: ".")
    }

    /// A hostname in random case, sometimes with a trailing dot.
    mutating func queryHostname() -> String {
        var name = String(hostname().map { chance(20) ? Character($0.uppercased()) : $0 })
        if chance(10) { name += "." }
        return name
    }

    private mutating func glob() -> String {
        let name = hostname()
        switch Int.random(in: 0..<9, using: &generator) {
        case 0: return "*." + name
        case 1: return "*" + name
        case 2: return pick(Self.labels) + "-*." + name
        case 3: return pick(Self.labels) + ".*"
        case 4: return "*" + pick(Self.labels) + "*"
        case 5: return pick(Self.labels) + "*" + pick(Self.labels) + "*." + pick(Self.topLevels)
        case 6: return "*"
        case 7: return String(name.prefix(Int.random(in: 1...name.count, using: &generator))) + "*"
        default: return "*" + String(name.suffix(Int.random(in: 1...name.count, using: &generator)))
        }
    }

    /// A random IPv4 address from 10.0.0.0/14, where the networks below live.
    mutating func ipv4() -> UInt32 {
        0x0a00_0000 | UInt32.random(in: 0..<4, using: &generator) << 16
            | UInt32.random(in: 0..<4, using: &generator) << 8 | UInt32.random(in: 0..<4, using: &generator)
    }

    /// A random IPv6 address from 2001:db8::/32 with few distinct bits.
    mutating func ipv6() -> UInt128 {
        0x2001_0db8 << 96 | UInt128.random(in: 0..<4, using: &generator) << 80
            | UInt128.random(in: 0..<4, using: &generator) << 64 | UInt128.random(in: 0..<4, using: &generator)
    }

    private mutating func network() -> (text: String, isIPv6: Bool) {
        if chance(50) {
            let length = chance(70) ? pick([8, 14, 16, 22, 24, 30, 32]) : Int.random(in: 0...32, using: &generator)
            let masked = length == 0 ? 0 : ipv4() & UInt32.max << (32 - length)
            let address = IPAddress.v4(masked).description
            if chance(15) {
                return ("::ffff:\(address)/\(length + 96)", true)
            }
            return (length == 32 && chance(50) ? address : "\(address)/\(length)", false)
        }
        let length = chance(70) ? pick([32, 64, 78, 80, 126, 128]) : Int.random(in: 0...128, using: &generator)
        let masked = length == 0 ? 0 : ipv6() & UInt128.max << (128 - length)
        return ("\(IPAddress.v6(masked))/\(length)", true)
    }

    /// The text of a random valid rule target.
    mutating func targetText() -> String {
        let port = chance(60) ? nil : pick(Self.ports)
        let suffix = port.map { ":\($0)" } ?? ""
        switch Int.random(in: 0..<10, using: &generator) {
        case 0..<4:
            let name = hostname()
            return (chance(20) ? name.uppercased() + "." : name) + suffix
        case 4..<7:
            return glob() + suffix
        default:
            let (text, isIPv6) = network()
            return isIPv6 && port != nil ? "[\(text)]\(suffix)" : text + suffix
        }
    }

    /// A random query: hostname (nil one time in ten), address (some IPv4 in mapped form) and port.
    mutating func query() -> (hostname: String?, address: IPAddress, port: UInt16) {
        let hostname = chance(10) ? nil : queryHostname()
        let address: IPAddress
        switch Int.random(in: 0..<10, using: &generator) {
        case 0..<5: address = .v4(ipv4())
        case 5: address = .v6(0xffff_0000_0000 | UInt128(ipv4()))
        default: address = .v6(ipv6())
        }
        return (hostname, address, pick(Self.ports))
    }
}

/// SplitMix64: a tiny deterministic generator, so that a failing seed reproduces.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var mixed = state
        mixed = (mixed ^ mixed >> 30) &* 0xbf58_476d_1ce4_e5b9
        mixed = (mixed ^ mixed >> 27) &* 0x94d0_49bb_1331_11eb
        return mixed ^ mixed >> 31
    }
}
