import NIOCore

/// The opening request of a connection that asks to switch protocols (`Connection: upgrade`,
/// `Upgrade: websocket`), read from the sniffed bytes. Such a connection is not intercepted
/// unless a rule matches it: it becomes a byte tunnel to its destination, so the protocol it
/// switches to works end to end.
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
