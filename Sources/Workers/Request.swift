/// An HTTP request: an intercepted one as the container sent it, or one a handler sends with
/// ``WorkerContext/fetch(_:)``.
public struct Request: Sendable {
    /// Method, scheme, authority (the `Host`), path and header fields.
    public var head: HTTPRequest
    /// The body, streamed; read it once.
    public var body: Body

    /// A request from its head and body.
    public init(head: HTTPRequest, body: Body = .empty) {
        self.head = head
        self.body = body
    }

    /// A request for an absolute `http` or `https` URL; nil if `url` is not one.
    public init?(method: HTTPRequest.Method = .get, url: String, headerFields: HTTPFields = [:], body: Body = .empty) {
        guard let target = AbsoluteURL(url) else { return nil }
        self.head = HTTPRequest(
            method: method, scheme: target.scheme, authority: target.authority, path: target.path,
            headerFields: headerFields
        )
        self.body = body
    }

    /// The request method.
    public var method: HTTPRequest.Method {
        get { head.method }
        set { head.method = newValue }
    }

    /// The header fields, unchanged from the client (names compare case-insensitively).
    public var headerFields: HTTPFields {
        get { head.headerFields }
        set { head.headerFields = newValue }
    }

    /// `scheme://host[:port]/path?query`, such as `https://api.example.com/v1/items?page=2`.
    public var url: String {
        "\(head.scheme ?? "http")://\(head.authority ?? "")\(head.path ?? "/")"
    }
}

/// The parts of an absolute `http(s)://authority/path` URL: the one parser of such URLs in the
/// package (handler requests, absolute-form request targets, `forward` destinations).
package struct AbsoluteURL: Sendable, Equatable {
    /// `http` or `https`, lower-cased.
    package let scheme: String
    /// `host`, `host:port` or `[v6]:port`, as written.
    package let authority: String
    /// The path and query, `/` when the URL has none.
    package let path: String

    /// Nil unless `text` is an `http` or `https` URL with a host (no user info, no spaces).
    package init?(_ text: String) {
        // Most request targets are paths (`/...`): turned away before any text is made.
        guard let first = text.utf8.first, first | 0x20 == UInt8(ascii: "h") else { return nil }
        let lowered = text.prefix(8).lowercased()
        let scheme: String
        if lowered.hasPrefix("http://") {
            scheme = "http"
        } else if lowered.hasPrefix("https://") {
            scheme = "https"
        } else {
            return nil
        }
        let rest = text.dropFirst(scheme.count + 3)
        let pathStart = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = rest[..<pathStart]
        guard !authority.isEmpty, !authority.contains(where: { $0 == " " || $0 == "@" }) else { return nil }
        let path = rest[pathStart...]
        self.scheme = scheme
        self.authority = String(authority)
        self.path = path.isEmpty ? "/" : path.hasPrefix("?") ? "/" + path : String(path)
    }
}
