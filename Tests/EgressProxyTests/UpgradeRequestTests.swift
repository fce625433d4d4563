@testable import EgressProxy
import NIOCore
import Testing

@Suite struct UpgradeRequestTests {
    @Test func aWebSocketOpeningIsAnUpgrade() {
        let head = "GET /chat HTTP/1.1\r\nHost: WS.Example:8080\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n"
        #expect(UpgradeRequest(ByteBuffer(string: head)) == UpgradeRequest(host: "ws.example", protocols: "websocket"))
    }

    @Test(arguments: [
        "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n",  // no Connection: upgrade
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n",  // no Upgrade
        "GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n",  // head not complete
        "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    ])
    func otherRequestsAreNot(head: String) {
        #expect(UpgradeRequest(ByteBuffer(string: head)) == nil)
    }

    @Test func aRequestWithoutHostStillUpgrades() {
        let head = "GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\nbody"
        #expect(UpgradeRequest(ByteBuffer(string: head)) == UpgradeRequest(host: nil, protocols: "h2c"))
    }
}
