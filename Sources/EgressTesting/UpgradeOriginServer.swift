/// A real origin that switches protocols, for tests, written in Python so it shares no code with
/// Egress. On each connection it serves HTTP/1.1 requests one after another (kept alive):
/// - `GET /ws` with `Connection: upgrade` and `Upgrade: websocket` is answered
///   `101 Switching Protocols`, followed at once by `hello from origin\n`; from then on every byte
///   it reads comes back upper-cased, and when the client ends its side it sends
///   `origin saw the end\n` and closes;
/// - any other request gets a small text body `STATUS PATH upgrade=UPGRADE` (the `Upgrade` field
///   it received, `-` without one): `400` for `/refuse` (also an upgrade request: the origin
///   declines it), `200` otherwise.
///
/// With a certificate and key it speaks TLS.
public enum UpgradeOriginServer {
    /// `python3 -c SCRIPT ADDRESS PORT [CERTIFICATE KEY]`; prints `LISTENING` once it listens.
    public static func command(address: String, port: UInt16, certificate: String? = nil, key: String? = nil) -> [String] {
        var argv = ["python3", "-u", "-c", script, address, String(port)]
        if let certificate, let key { argv += [certificate, key] }
        return argv
    }

    static let script = #"""
import socket, socketserver, ssl, sys

address, port = sys.argv[1], int(sys.argv[2])
tls = None
if len(sys.argv) > 4:
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(sys.argv[3], sys.argv[4])

class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        sock = tls.wrap_socket(self.request, server_side=True) if tls else self.request
        buffered = b""
        while True:
            while b"\r\n\r\n" not in buffered:
                data = sock.recv(65536)
                if not data:
                    return
                buffered += data
            head, buffered = buffered.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1]
            headers = {}
            for line in lines[1:]:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
            upgrade = headers.get("upgrade", "-")
            asks = upgrade == "websocket" and "upgrade" in headers.get("connection", "").lower()
            if path == "/ws" and asks:
                sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nhello from origin\n")
                if buffered:
                    sock.sendall(buffered.upper())
                while True:
                    data = sock.recv(65536)
                    if not data:
                        break
                    sock.sendall(data.upper())
                sock.sendall(b"origin saw the end\n")
                sock.close()
                return
            status = "400 Bad Request" if path == "/refuse" else "200 OK"
            body = ("%s %s upgrade=%s\n" % (status.split(" ")[0], path, upgrade)).encode()
            sock.sendall(("HTTP/1.1 %s\r\nContent-Length: %d\r\n\r\n" % (status, len(body))).encode() + body)
"""# + OriginServer.serving(base: "socketserver.ThreadingTCPServer")
}
