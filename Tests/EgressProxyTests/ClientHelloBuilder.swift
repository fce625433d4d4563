import NIOCore

/// Builds TLS ClientHello records byte by byte, to feed the sniffer well-formed and broken ones.
struct ClientHelloBuilder {
    var serverName: String? = "api.example.com"
    var applicationProtocols: [String] = ["h2", "http/1.1"]
    var extraExtensionBytes = 0
    var recordSize = 16384

    /// The handshake message (type, length, body).
    func handshake() -> [UInt8] {
        var body: [UInt8] = [0x03, 0x03] + [UInt8](repeating: 7, count: 32)
        body += [0]  // session id
        body += [0, 2, 0x13, 0x01]  // one cipher suite
        body += [1, 0]  // null compression
        var extensions: [UInt8] = []
        if let serverName {
            let name = Array(serverName.utf8)
            let entry = [UInt8(0)] + u16(name.count) + name
            extensions += u16(0) + u16(entry.count + 2) + u16(entry.count) + entry
        }
        if !applicationProtocols.isEmpty {
            let list = applicationProtocols.flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) }
            extensions += u16(16) + u16(list.count + 2) + u16(list.count) + list
        }
        if extraExtensionBytes > 0 {
            extensions += u16(21) + u16(extraExtensionBytes) + [UInt8](repeating: 0, count: extraExtensionBytes)
        }
        body += u16(extensions.count) + extensions
        return [1] + u24(body.count) + body
    }

    /// The handshake message in TLS records of at most `recordSize` bytes each.
    func records() -> ByteBuffer {
        var buffer = ByteBuffer()
        let message = handshake()
        var offset = 0
        while offset < message.count {
            let fragment = message[offset..<min(offset + recordSize, message.count)]
            buffer.writeBytes([0x16, 0x03, 0x01] + u16(fragment.count) + fragment)
            offset += fragment.count
        }
        return buffer
    }

    private func u16(_ value: Int) -> [UInt8] { [UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }
    private func u24(_ value: Int) -> [UInt8] { [UInt8(value >> 16 & 0xFF)] + u16(value) }
}
