import NIOCore
import NIOHTTP1

/// A request that asks to switch protocols (`Connection: upgrade`, `Upgrade: websocket`).
///
/// As the opening request of a connection, read from the sniffed bytes: such a connection is not
/// intercepted unless a rule matches it, it becomes a byte tunnel to its destination (spliced),
/// so the protocol it switches to works end to end. As any later request (or one inside
/// intercepted TLS), read from its parsed head: one that goes out to its origin is sent on a
/// connection of its own with its upgrade fields, and becomes a tunnel if the origin answers
/// `101 Switching Protocols` (``DirectExchange``, ``UpgradeTunnel``).
struct UpgradeRequest: Equatable {
    /// The `Host` without its port, lower-cased, if the request has one.
    var host: String?
    /// The `Upgrade` header's value.
    var protocols: String

    init(host: String?, protocols: String) {
        self.host = host
        self.protocols = protocols
    }

    /// The upgrade request at the start of `bytes`, or nil if they do not hold a complete request
    /// head that asks for an upgrade.
    init?(_ bytes: ByteBuffer) {
        let view = bytes.readableBytesView
        guard let end = Self.endOfHead(view) else { return nil }
        var host: String?
        var protocols: String?
        var connectionUpgrade = false
        for line in view[view.startIndex..<end].split(separator: UInt8(ascii: "\n")).dropFirst() {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            let name = String(decoding: line[line.startIndex..<colon], as: UTF8.self).lowercased()
            let value = String(decoding: line[line.index(after: colon)...], as: UTF8.self)
                .trimmingSpaces()
            switch name {
            case "host": host = HTTPConversion.hostname(ofAuthority: value).lowercased()
            case "upgrade": protocols = value
            case "connection": connectionUpgrade = value.lowercased().split(separator: ",").contains { $0.trimmingSpaces() == "upgrade" }
            default: break
            }
        }
        guard connectionUpgrade, let protocols, !protocols.isEmpty else { return nil }
        self.host = host
        self.protocols = protocols
    }

    /// The upgrade `head` asks for, if it asks for one.
    init?(head: HTTPRequestHead) {
        // The Upgrade field first: it is absent from nearly every request, and cheap to look for.
        guard let protocols = head.headers.first(name: "upgrade"), !protocols.isEmpty, Self.listsUpgrade(head.headers) else { return nil }
        self.host = head.headers.first(name: "host").map { HTTPConversion.hostname(ofAuthority: $0).lowercased() }
        self.protocols = protocols
    }

    /// Whether the `Connection` fields of `headers` list `upgrade`.
    static func listsUpgrade(_ headers: HTTPHeaders) -> Bool {
        headers[canonicalForm: "connection"].contains { HopByHopFields.name($0.utf8, is: "upgrade") }
    }

    /// The index just past the blank line that ends the head.
    private static func endOfHead(_ view: ByteBufferView) -> ByteBufferView.Index? {
        let terminator: [UInt8] = [13, 10, 13, 10]
        var index = view.startIndex
        while index + 4 <= view.endIndex {
            if view[index] == 13, view[index..<index + 4].elementsEqual(terminator) { return index + 4 }
            index += 1
        }
        return nil
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs and carriage returns.
    fileprivate func trimmingSpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}
