@testable import EgressProxy
import NIOCore
import Testing

@Suite struct ProtocolSnifferTests {
    @Test func clientHelloGivesServerNameAndALPN() {
        let bytes = ClientHelloBuilder(serverName: "API.Example.COM").records()
        #expect(ProtocolSniffer.classify(bytes) == .tls(ClientHello(serverName: "api.example.com", applicationProtocols: ["h2", "http/1.1"])))
    }

    @Test func clientHelloWithoutServerName() {
        let bytes = ClientHelloBuilder(serverName: nil, applicationProtocols: []).records()
        #expect(ProtocolSniffer.classify(bytes) == .tls(ClientHello(serverName: nil, applicationProtocols: [])))
    }

    @Test func clientHelloSplitOverRecordsAndSegments() {
        let bytes = ClientHelloBuilder(extraExtensionBytes: 3000, recordSize: 700).records()
        #expect(ProtocolSniffer.classify(bytes) == .tls(ClientHello(serverName: "api.example.com", applicationProtocols: ["h2", "http/1.1"])))
        for cut in [1, 5, 6, 100, 701, bytes.readableBytes - 1] {
            #expect(ProtocolSniffer.classify(bytes.getSlice(at: 0, length: cut) ?? ByteBuffer()) == .needMoreBytes, "cut at \(cut)")
        }
    }

    @Test func everyTruncationOfTheHelloIsMalformedNotACrash() {
        let message = ClientHelloBuilder().handshake()
        // Claim a shorter body than the extensions need: each cut must fail cleanly.
        for cut in 4..<message.count {
            var truncated = Array(message[..<cut])
            let bodyLength = cut - 4
            truncated[1] = UInt8(bodyLength >> 16 & 0xFF)
            truncated[2] = UInt8(bodyLength >> 8 & 0xFF)
            truncated[3] = UInt8(bodyLength & 0xFF)
            var record = ByteBuffer(bytes: [0x16, 0x03, 0x01, UInt8(truncated.count >> 8), UInt8(truncated.count & 0xFF)])
            record.writeBytes(truncated)
            let result = ProtocolSniffer.classify(record)
            switch result {
            case .malformedTLS, .tls: break  // a cut right after a complete extension is a valid hello
            default: Issue.record("cut at \(cut) gave \(result)")
            }
        }
    }

    @Test(arguments: [
        ([0x16, 0x03, 0x01, 0x00, 0x00] as [UInt8], "record length 0 out of range"),
        ([0x16, 0x02, 0x00, 0x00, 0x05, 1, 0, 0, 1, 0], "unknown record version 2.0"),
        ([0x16, 0x03, 0x01, 0x00, 0x04, 2, 0, 0, 0], "first handshake message is type 2, not ClientHello"),
        ([0x16, 0x03, 0x01, 0xFF, 0xFF], "record length 65535 out of range"),
    ])
    func brokenRecordsAreMalformed(bytes: [UInt8], reason: String) {
        #expect(ProtocolSniffer.classify(ByteBuffer(bytes: bytes)) == .malformedTLS(reason))
    }

    @Test func randomBytesNeverCrashTheSniffer() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            var bytes = (0..<Int.random(in: 1...300, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if Bool.random(using: &generator) { bytes[0] = 0x16 }
            if bytes.count > 1, Bool.random(using: &generator) { bytes[1] = 0x03 }
            _ = ProtocolSniffer.classify(ByteBuffer(bytes: bytes))
        }
    }

    @Test(arguments: ["GET / HTTP/1.1\r\n", "POST /x HTTP/1.1\r\n", "PROPFIND / HTTP/1.1\r\n", "M-SEARCH * HTTP/1.1\r\n"])
    func requestLinesAreHTTP(line: String) {
        #expect(ProtocolSniffer.classify(ByteBuffer(string: line)) == .http)
    }

    @Test(arguments: ["SSH-2.0-OpenSSH_9.2\r\n", "get / HTTP/1.1\r\n", "\u{0}\u{1}", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "AAAAAAAAAAAAAAAAAAAA /"])
    func otherBytesAreOpaque(text: String) {
        #expect(ProtocolSniffer.classify(ByteBuffer(string: text)) == .opaque)
    }

    @Test(arguments: ["", "G", "GET", "OPTIONS"])
    func shortPrefixesWaitForMore(text: String) {
        #expect(ProtocolSniffer.classify(ByteBuffer(string: text)) == .needMoreBytes)
    }
}
