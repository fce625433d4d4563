import HTTPTypes
import NIOHTTP1
import Workers

/// Conversions between NIOHTTP1's wire heads and the swift-http-types heads handlers see.
///
/// Handlers get the `Host` as the request's authority (swift-http-types' convention); every other
/// header field stays as the client sent it, in order. Absolute-form targets
/// (`GET http://host/path`) give their authority and path.
enum HTTPConversion {
    /// Header fields that describe one connection, not the message; a proxy does not forward them.
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
        "te", "trailer", "transfer-encoding", "upgrade",
    ]

    static func request(_ head: HTTPRequestHead, scheme: String) throws(HTTPConversionError) -> HTTPRequest {
        guard let method = HTTPRequest.Method(head.method.rawValue) else { throw .init("invalid method \(head.method.rawValue)") }
        var authority = head.headers.first(name: "host")
        var path = head.uri
        if let absolute = AbsoluteURL(head.uri) {
            authority = absolute.authority
            path = absolute.path
        }
        var fields = HTTPFields()
        fields.reserveCapacity(head.headers.count)
        for (name, value) in head.headers {
            guard let fieldName = HTTPField.Name(name) else { throw .init("invalid header name \(name)") }
            if fieldName.canonicalName != "host" { fields.append(HTTPField(name: fieldName, value: value)) }
        }
        return HTTPRequest(method: method, scheme: scheme, authority: authority, path: path, headerFields: fields)
    }

    /// The request head to send upstream: `Host` first, hop-by-hop fields left out.
    static func upstreamHead(
        _ request: HTTPRequest, hostOverride: String? = nil, knownLength: Int? = nil, close: Bool = false
    ) -> HTTPRequestHead {
        var headers = HTTPHeaders()
        headers.reserveCapacity(request.headerFields.count + 2)
        if let host = hostOverride ?? request.authority { headers.add(name: "Host", value: host) }
        let connectionScoped = namedByConnection(request.headerFields)
        for field in request.headerFields
        where !hopByHop.contains(field.name.canonicalName) && !connectionScoped.contains(field.name.canonicalName)
            && field.name != .expect && field.name.canonicalName != "host"
        {
            headers.add(name: field.name.rawName, value: field.value)
        }
        if let knownLength, !headers.contains(name: "content-length"), !headers.contains(name: "transfer-encoding"),
           knownLength > 0 || request.method == .post || request.method == .put || request.method == .patch
        {
            headers.add(name: "Content-Length", value: String(knownLength))
        }
        if close { headers.add(name: "Connection", value: "close") }
        return HTTPRequestHead(
            version: .http1_1, method: HTTPMethod(rawValue: request.method.rawValue), uri: request.path ?? "/", headers: headers
        )
    }

    /// The response head for the client, keeping its framing fields (content-length,
    /// transfer-encoding); a body of `knownLength` bytes gets a content-length if it has none.
    static func clientHead(_ response: HTTPResponse, version: HTTPVersion, knownLength: Int?) -> HTTPResponseHead {
        var headers = HTTPHeaders()
        headers.reserveCapacity(response.headerFields.count + 1)
        for field in response.headerFields where field.name != .connection && field.name.canonicalName != "keep-alive" {
            headers.add(name: field.name.rawName, value: field.value)
        }
        if let knownLength, !headers.contains(name: "content-length"), !headers.contains(name: "transfer-encoding"),
           response.status.code != 204, response.status.code != 304
        {
            headers.add(name: "Content-Length", value: String(knownLength))
        }
        return HTTPResponseHead(
            version: version, status: HTTPResponseStatus(statusCode: response.status.code, reasonPhrase: response.status.reasonPhrase),
            headers: headers
        )
    }

    /// A response from upstream as a handler or the client sees it: hop-by-hop fields left out.
    static func response(_ head: HTTPResponseHead) -> HTTPResponse {
        var fields = HTTPFields()
        fields.reserveCapacity(head.headers.count)
        let connectionScoped = Set(head.headers[canonicalForm: "connection"].map { $0.lowercased() })
        for (name, value) in head.headers {
            guard let fieldName = HTTPField.Name(name), !hopByHop.contains(fieldName.canonicalName),
                  !connectionScoped.contains(fieldName.canonicalName)
            else { continue }
            fields.append(HTTPField(name: fieldName, value: value))
        }
        let status = HTTPResponse.Status(code: Int(head.status.code), reasonPhrase: head.status.reasonPhrase)
        return HTTPResponse(status: status, headerFields: fields)
    }

    /// The field names a `Connection` header lists (RFC 9110 §7.6.1): hop-by-hop too.
    private static func namedByConnection(_ fields: HTTPFields) -> Set<String> {
        var names = Set<String>()
        for value in fields[values: .connection] {
            for token in value.split(separator: ",") {
                let trimmed = token.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed()
                names.insert(String(trimmed).lowercased())
            }
        }
        return names
    }

    /// The hostname of an authority (`host`, `host:port`, `[v6]:port`), for rule matching.
    static func hostname(ofAuthority authority: String) -> String {
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            return String(authority[authority.index(after: authority.startIndex)..<close])
        }
        if let colon = authority.lastIndex(of: ":"), authority.firstIndex(of: ":") == colon {
            return String(authority[..<colon])
        }
        return authority
    }

    /// The port of an authority, if it names one.
    static func port(ofAuthority authority: String) -> Int? {
        let afterHost = authority.hasPrefix("[") ? authority[(authority.firstIndex(of: "]") ?? authority.startIndex)...] : authority[...]
        guard let colon = afterHost.lastIndex(of: ":"), afterHost.firstIndex(of: ":") == colon else { return nil }
        let digits = afterHost[afterHost.index(after: colon)...]
        guard !digits.isEmpty, digits.count <= 5, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        return Int(digits).flatMap { (1...65535).contains($0) ? $0 : nil }
    }
}

/// A request head that cannot be represented (an invalid method or header name).
struct HTTPConversionError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
