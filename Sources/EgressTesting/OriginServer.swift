/// A real HTTP origin for tests, written in Python so it shares no code with Egress: it answers
/// every request with JSON describing what it received (method, path, headers, body size).
/// `GET /bytes/N` streams N bytes instead.
public enum OriginServer {
    /// `python3 -c SCRIPT ADDRESS PORT NAME`.
    public static func command(address: String, port: UInt16, name: String) -> [String] {
        ["python3", "-u", "-c", script, address, String(port), name]
    }

    static let script = #"""
import http.server, json, socket, sys

address, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def body(self):
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return total
                while size:
                    chunk = self.rfile.read(min(size, 1 << 20))
                    total += len(chunk)
                    size -= len(chunk)
                self.rfile.readline()
        remaining = int(self.headers.get("content-length") or 0)
        total = remaining
        while remaining:
            remaining -= len(self.rfile.read(min(remaining, 1 << 20)))
        return total

    def answer(self):
        received = self.body()
        if self.command == "GET" and self.path.startswith("/bytes/"):
            count = int(self.path.split("/")[2])
            self.send_response(200)
            self.send_header("content-type", "application/octet-stream")
            self.send_header("content-length", str(count))
            self.end_headers()
            block = b"x" * (1 << 20)
            while count:
                part = block[:min(count, len(block))]
                self.wfile.write(part)
                count -= len(part)
            return
        text = json.dumps({
            "server": name, "method": self.command, "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()}, "received": received,
        }).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = answer

    def log_message(self, *args):
        pass

"""# + serving(base: "http.server.ThreadingHTTPServer")

    /// The end of a test origin's script: serves `Handler` with a `base` server class on
    /// `address` and `port`, one thread a connection, and prints `LISTENING` once it listens.
    static func serving(base: String) -> String {
        """

        class Server(\(base)):
            address_family = socket.AF_INET6 if ":" in address else socket.AF_INET
            allow_reuse_address = True
            daemon_threads = True

        server = Server((address, port), Handler)
        print("LISTENING", flush=True)
        server.serve_forever()

        """
    }
}
