@testable import EgressProxy
import NIOHTTP1
import Testing
import Workers

@Suite struct HTTPConversionTests {
    private func head(_ method: HTTPMethod = .GET, _ uri: String, _ headers: [(String, String)]) -> HTTPRequestHead {
        HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: HTTPHeaders(headers))
    }

    private func lines(_ headers: HTTPHeaders) -> [String] {
        headers.map { "\($0.name): \($0.value)" }
    }

    // MARK: wire request → HTTPRequest

    @Test func hostBecomesTheAuthorityAndOtherFieldsStayInOrder() throws {
        let request = try HTTPConversion.request(head(.POST, "/v1/items?page=2", [
            ("User-Agent", "curl/8.5"), ("host", "API.Example.com:8080"), ("X-Token", "MiXeD Case Value"),
            ("accept", "*/*"), ("X-Token", "second"),
        ]), scheme: "http")
        #expect(request.method == .post)
        #expect(request.scheme == "http")
        #expect(request.authority == "API.Example.com:8080")
        #expect(request.path == "/v1/items?page=2")
        #expect(request.headerFields.map { "\($0.name.rawName): \($0.value)" } == [
            "User-Agent: curl/8.5", "X-Token: MiXeD Case Value", "accept: */*", "X-Token: second",
        ])
        #expect(!request.headerFields.contains(HTTPField.Name("Host")!), "Host is the authority, not a field")
    }

    @Test func requestWithoutHostHasNoAuthority() throws {
        let request = try HTTPConversion.request(head(.GET, "/", [("Accept", "*/*")]), scheme: "https")
        #expect(request.authority == nil)
        #expect(request.scheme == "https")
        #expect(request.headerFields.count == 1)
    }

    @Test(arguments: [
        ("http://h.example/p?q=1", "h.example", "/p?q=1"),
        ("HTTP://h.example:8080", "h.example:8080", "/"),
        ("https://h.example?x", "h.example", "/?x"),
        ("http://[2001:db8::1]:8080/a", "[2001:db8::1]:8080", "/a"),
    ])
    func absoluteFormTargetGivesAuthorityAndPath(uri: String, authority: String, path: String) throws {
        let request = try HTTPConversion.request(head(.GET, uri, [("Host", "ignored.example")]), scheme: "http")
        #expect(request.authority == authority, "the target's authority wins over Host")
        #expect(request.path == path)
        #expect(request.headerFields.isEmpty)
    }

    @Test func invalidMethodIsRejected() {
        #expect {
            try HTTPConversion.request(head(.RAW(value: "GE T"), "/", []), scheme: "http")
        } throws: { error in
            (error as? HTTPConversionError)?.description == "invalid method GE T"
        }
    }

    @Test func extensionMethodsAreKept() throws {
        let request = try HTTPConversion.request(head(.RAW(value: "PURGE"), "/cache", []), scheme: "http")
        #expect(request.method.rawValue == "PURGE")
    }

    @Test func invalidHeaderNameIsRejected() {
        #expect {
            try HTTPConversion.request(head(.GET, "/", [("Host", "h"), ("Bad Name", "v")]), scheme: "http")
        } throws: { error in
            (error as? HTTPConversionError)?.description == "invalid header name Bad Name"
        }
    }

    // MARK: HTTPRequest → upstream head

    @Test func upstreamHeadPutsHostFirstAndDropsHopByHopAndExpect() throws {
        var fields = HTTPFields()
        for (name, value) in [
            ("Accept", "*/*"), ("Connection", "keep-alive"), ("Keep-Alive", "timeout=5"), ("Proxy-Connection", "keep-alive"),
            ("Proxy-Authorization", "Basic eA=="), ("TE", "trailers"), ("Trailer", "X-Sum"), ("Transfer-Encoding", "chunked"),
            ("Upgrade", "websocket"), ("Expect", "100-continue"), ("Content-Length", "3"), ("X-Keep", "Value"),
        ] {
            fields.append(HTTPField(name: HTTPField.Name(name)!, value: value))
        }
        let request = HTTPRequest(method: .put, scheme: "http", authority: "h.example:81", path: "/up?x=1", headerFields: fields)
        let upstream = HTTPConversion.upstreamHead(request)
        #expect(upstream.method == .PUT)
        #expect(upstream.uri == "/up?x=1")
        #expect(upstream.version == .http1_1)
        #expect(lines(upstream.headers) == ["Host: h.example:81", "Accept: */*", "Content-Length: 3", "X-Keep: Value"])
    }

    /// A handler may build any path; a CR or LF in it must not end the request line and smuggle
    /// a second request (or header) to the origin.
    @Test func handlerMadePathsCannotSplitTheRequestLine() {
        let request = HTTPRequest(
            method: .get, scheme: "http", authority: "h.example", path: "/a b\r\nX-Injected: 1\r\n\r\nGET /evil HTTP/1.1\tü", headerFields: [:]
        )
        let uri = HTTPConversion.upstreamHead(request).uri
        // (swift-http-types already turns CR and LF in a path into spaces; spaces split the line too.)
        #expect(uri.hasPrefix("/a%20b%") && uri.hasSuffix("GET%20/evil%20HTTP/1.1%09%C3%BC"), "\(uri)")
        #expect(!uri.contains("\r") && !uri.contains("\n") && !uri.contains(" "))
        #expect(HTTPConversion.requestTarget("/plain?q=1") == "/plain?q=1")
        #expect(HTTPConversion.requestTarget("") == "/")
    }

    @Test func upstreamHeadDefaults() {
        let request = HTTPRequest(method: .get, scheme: "http", authority: "client.example", path: nil, headerFields: [.accept: "a"])
        let upstream = HTTPConversion.upstreamHead(request)
        #expect(lines(upstream.headers) == ["Host: client.example", "Accept: a"])
        #expect(upstream.uri == "/", "a missing path is /")
        let noAuthority = HTTPRequest(method: .get, scheme: "http", authority: nil, path: "/x", headerFields: [:])
        #expect(HTTPConversion.upstreamHead(noAuthority).headers.isEmpty)
    }

    /// A bodiless POST goes out with `Content-Length: 0` whichever path forwards it: the gate's
    /// (the wire head) or a handler's (swift-http-types, a body of known length 0).
    @Test(arguments: [HTTPMethod.POST, .PUT, .PATCH])
    func aBodilessPostGetsContentLengthZeroOnBothPaths(method: HTTPMethod) throws {
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: "/x", headers: ["Host": "h.example", "Accept": "a"])
        let direct = HTTPConversion.upstreamHead(forwarding: head, authority: "h.example", path: "/x")
        let converted = try HTTPConversion.request(head, scheme: "http")
        let viaHandler = HTTPConversion.upstreamHead(converted, knownLength: 0)
        #expect(lines(direct.headers) == ["Host: h.example", "Accept: a", "Content-Length: 0"])
        #expect(lines(viaHandler.headers) == lines(direct.headers))
        let get = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/x", headers: ["Host": "h.example"])
        #expect(lines(HTTPConversion.upstreamHead(forwarding: get, authority: "h.example", path: "/x").headers) == ["Host: h.example"])
        let explicit = HTTPRequestHead(version: .http1_1, method: method, uri: "/x", headers: ["Host": "h.example", "Content-Length": "0"])
        #expect(lines(HTTPConversion.upstreamHead(forwarding: explicit, authority: "h.example", path: "/x").headers) == ["Host: h.example", "Content-Length: 0"])
    }

    /// RFC 9110 §7.6.1: a proxy must remove the fields that `Connection` names, as well as
    /// `Connection` itself; they describe the client's hop only.
    @Test
    func upstreamHeadDropsFieldsNamedByConnection() {
        let request = HTTPRequest(method: .get, scheme: "http", authority: "h.example", path: "/", headerFields: [
            .connection: "close, X-Hop-Secret", HTTPField.Name("X-Hop-Secret")!: "for the proxy only", .accept: "*/*",
        ])
        #expect(lines(HTTPConversion.upstreamHead(request).headers) == ["Host: h.example", "Accept: */*"])
    }

    // MARK: HTTPResponse → client head

    @Test func clientHeadAddsContentLengthForKnownLengths() {
        let response = HTTPResponse(status: .ok, headerFields: [.contentType: "text/plain", .connection: "keep-alive", HTTPField.Name("Keep-Alive")!: "timeout=5"])
        let head = HTTPConversion.clientHead(response, version: .http1_1, knownLength: 12)
        #expect(head.status == .ok)
        #expect(head.version == .http1_1)
        #expect(lines(head.headers) == ["Content-Type: text/plain", "Content-Length: 12"], "Connection and Keep-Alive are the proxy's to set")
        let unknown = HTTPConversion.clientHead(response, version: .http1_0, knownLength: nil)
        #expect(lines(unknown.headers) == ["Content-Type: text/plain"])
        #expect(unknown.version == .http1_0)
    }

    @Test(arguments: [204, 304])
    func clientHeadAddsNoContentLengthToBodylessStatuses(code: Int) {
        let head = HTTPConversion.clientHead(HTTPResponse(status: .init(code: code)), version: .http1_1, knownLength: 0)
        #expect(head.status.code == UInt(code))
        #expect(!head.headers.contains(name: "content-length"))
    }

    @Test func clientHeadKeepsFramingFieldsAndCustomReasons() {
        let chunked = HTTPResponse(status: .init(code: 299, reasonPhrase: "Fine Enough"), headerFields: [.transferEncoding: "chunked"])
        let head = HTTPConversion.clientHead(chunked, version: .http1_1, knownLength: 5)
        #expect(lines(head.headers) == ["Transfer-Encoding: chunked"], "no content-length beside transfer-encoding")
        #expect(head.status.code == 299)
        #expect(head.status.reasonPhrase == "Fine Enough")
        let sized = HTTPResponse(status: .ok, headerFields: [.contentLength: "7"])
        #expect(lines(HTTPConversion.clientHead(sized, version: .http1_1, knownLength: 7).headers) == ["Content-Length: 7"])
    }

    @Test func upstreamResponseLosesHopByHopFields() {
        let head = HTTPResponseHead(version: .http1_1, status: .created, headers: HTTPHeaders([
            ("Connection", "close"), ("Transfer-Encoding", "chunked"), ("Location", "/items/7"), ("Keep-Alive", "x"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"),
        ]))
        let response = HTTPConversion.response(head)
        #expect(response.status.code == 201)
        #expect(response.headerFields.map { "\($0.name.rawName): \($0.value)" } == ["Location: /items/7", "Set-Cookie: a=1", "Set-Cookie: b=2"])
    }

    @Test func fieldsTheConnectionHeaderListsAreHopByHopInAnyCaseAndSpacing() {
        let fields = HopByHopFields(HTTPHeaders([
            ("connection", " Keep-Alive ,\tX-Trace-Hop,, close"), ("CONNECTION", "Upgrade, x-second"),
        ]))
        for name in ["x-trace-hop", "X-TRACE-HOP", "X-Second", "Keep-Alive", "Upgrade", "Connection", "TE", "Proxy-Authorization", "Transfer-Encoding"] {
            #expect(fields.contains(name), "\(name)")
        }
        for name in ["close", "Content-Length", "X-Trace", "X-Trace-Hops", "Host", "Authorization"] {
            #expect(!fields.contains(name), "\(name)")
        }
        let fromValues = HopByHopFields(connectionValues: ["keep-alive", "X-Trace-Hop"])
        #expect(fromValues.contains("x-trace-hop"))
        #expect(!fromValues.contains("x-other"))
    }

    @Test func anUpgradeKeepsWhatItsConnectionListsForTheSwitch() {
        let original = HTTPHeaders([
            ("Host", "h.example"), ("Connection", "Upgrade, HTTP2-Settings, keep-alive"), ("Upgrade", "h2c"),
            ("HTTP2-Settings", "AAMAAABkAAQCAAAAAAIAAAAA"), ("Keep-Alive", "timeout=5"), ("X-Kept", "1"),
        ])
        var headers = HTTPHeaders([("Host", "h.example"), ("X-Kept", "1")])
        HTTPConversion.keepUpgrade(&headers, from: original)
        #expect(headers["Upgrade"] == ["h2c"])
        #expect(headers["HTTP2-Settings"] == ["AAMAAABkAAQCAAAAAAIAAAAA"])
        #expect(headers["Connection"] == ["Upgrade, HTTP2-Settings"])
        #expect(headers["Keep-Alive"].isEmpty)

        var websocket = HTTPHeaders()
        HTTPConversion.keepUpgrade(&websocket, from: HTTPHeaders([("connection", "upgrade"), ("upgrade", "websocket")]))
        #expect(websocket["Connection"] == ["upgrade"])
        #expect(websocket["upgrade"] == ["websocket"])
    }

    // MARK: authorities

    @Test(arguments: [
        ("h.example", "h.example", nil),
        ("h.example:8080", "h.example", 8080),
        ("[2001:db8::1]:443", "2001:db8::1", 443),
        ("[::1]", "::1", nil),
        ("2001:db8::1", "2001:db8::1", nil),
        ("h.example:0", "h.example", nil),
        ("h.example:65535", "h.example", 65535),
        ("h.example:65536", "h.example", nil),
        ("h.example:http", "h.example", nil),
        ("h.example:", "h.example", nil),
        ("h.example:-1", "h.example", nil),
        ("[::1]:", "::1", nil),
        ("[::1]:99999", "::1", nil),
        ("", "", nil),
    ] as [(String, String, Int?)])
    func hostnameAndPortOfAuthority(authority: String, hostname: String, port: Int?) {
        #expect(HTTPConversion.hostname(ofAuthority: authority) == hostname)
        #expect(HTTPConversion.port(ofAuthority: authority) == port)
    }

    /// A port is digits only (RFC 3986 §3.2.3); `Int("+80")` accepts a sign.
    @Test
    func signedPortIsNotAPort() {
        #expect(HTTPConversion.port(ofAuthority: "h.example:+80") == nil)
    }
}
