import HTTPTypes
import NIOHTTP1
import Workers

/// Conversions between NIOHTTP1's wire heads and the swift-http-types heads handlers see.
///
/// Handlers get the `Host` as the request's authority (swift-http-types' convention); every other
/// header field stays as the client sent it, in order. Absolute-form targets
/// (`GET http://host/path`) give their authority and path.
enum HTTPConversion {
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
        _ request: HTTPRequest, knownLength: Int? = nil, close: Bool = false
    ) -> HTTPRequestHead {
        var headers = HTTPHeaders()
        headers.reserveCapacity(request.headerFields.count + 2)
        if let host = request.authority { headers.add(name: "Host", value: host) }
        let hopByHop = HopByHopFields(connectionValues: request.headerFields[values: .connection])
        for field in request.headerFields
        where !hopByHop.contains(field.name.canonicalName) && field.name != .expect && field.name.canonicalName != "host" {
            headers.add(name: field.name.rawName, value: field.value)
        }
        if let knownLength, !headers.contains(name: "content-length"), !headers.contains(name: "transfer-encoding"),
           knownLength > 0 || request.method == .post || request.method == .put || request.method == .patch
        {
            headers.add(name: "Content-Length", value: String(knownLength))
        }
        if close { headers.add(name: "Connection", value: "close") }
        return HTTPRequestHead(
            version: .http1_1, method: HTTPMethod(rawValue: request.method.rawValue), uri: requestTarget(request.path), headers: headers
        )
    }

    /// A path a handler made, safe for a request line: control characters, spaces and non-ASCII
    /// bytes are percent-encoded (a CR or LF would otherwise end the line and smuggle a second
    /// request to the origin); an empty or missing path is `/`.
    static func requestTarget(_ path: String?) -> String {
        guard let path, !path.isEmpty else { return "/" }
        guard path.utf8.contains(where: { $0 <= 0x20 || $0 >= 0x7F }) else { return path }
        var encoded = ""
        encoded.reserveCapacity(path.utf8.count + 8)
        for byte in path.utf8 {
            if byte <= 0x20 || byte >= 0x7F {
                encoded += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            } else {
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            }
        }
        return encoded
    }

    /// The request head to send upstream for a client's wire head, without going through
    /// swift-http-types (the direct forwarding path, bodiless requests): the same fields
    /// ``upstreamHead(_:knownLength:close:)`` would send, `Host` first (`authority`), the target in
    /// origin form (`path`), and `Content-Length: 0` for a `POST`, `PUT` or `PATCH` that gave no
    /// length (an origin may refuse one without it: 411).
    static func upstreamHead(forwarding head: HTTPRequestHead, authority: String?, path: String) -> HTTPRequestHead {
        var headers = HTTPHeaders()
        headers.reserveCapacity(head.headers.count + 1)
        if let authority { headers.add(name: "Host", value: authority) }
        let hopByHop = HopByHopFields(head.headers)
        for (name, value) in head.headers
        where !hopByHop.contains(name) && !HopByHopFields.name(name, is: "expect") && !HopByHopFields.name(name, is: "host") {
            headers.add(name: name, value: value)
        }
        if head.method == .POST || head.method == .PUT || head.method == .PATCH,
           !head.headers.contains(name: "content-length"), !head.headers.contains(name: "transfer-encoding")
        {
            headers.add(name: "Content-Length", value: "0")
        }
        return HTTPRequestHead(version: .http1_1, method: head.method, uri: path, headers: headers)
    }

    /// The response head for the client of an upstream's wire head (the direct forwarding
    /// path): hop-by-hop fields left out as in ``response(_:)`` (a chunked body is framed anew for
    /// the client by the server's encoder), content-length kept.
    static func clientHead(forwarding head: HTTPResponseHead, version: HTTPVersion) -> HTTPResponseHead {
        var headers = HTTPHeaders()
        headers.reserveCapacity(head.headers.count)
        let hopByHop = HopByHopFields(head.headers)
        for (name, value) in head.headers where !hopByHop.contains(name) {
            headers.add(name: name, value: value)
        }
        return HTTPResponseHead(version: version, status: head.status, headers: headers)
    }

    /// Puts back the fields of a protocol switch that the hop-by-hop filter left out of
    /// `headers`: the `Upgrade` fields of `original` (the message they were filtered from), the
    /// fields its `Connection` lists for the switch (`HTTP2-Settings` of an h2c upgrade), and a
    /// `Connection` naming them. For an upgrade request going out, and the `101` coming back: the
    /// two ends switch protocols with each other, the proxy only tunnels.
    static func keepUpgrade(_ headers: inout HTTPHeaders, from original: HTTPHeaders) {
        let listed = HopByHopFields(original).listedNames
        for (name, value) in original
        where HopByHopFields.name(name, is: "upgrade") || listed.contains(where: { HopByHopFields.name(name, is: $0) }) {
            headers.add(name: name, value: value)
        }
        let connection = original[canonicalForm: "connection"].filter { token in
            HopByHopFields.name(token.utf8, is: "upgrade") || listed.contains { HopByHopFields.name(token.utf8, is: $0) }
        }
        headers.add(name: "Connection", value: connection.isEmpty ? "Upgrade" : connection.joined(separator: ", "))
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
        let hopByHop = HopByHopFields(head.headers)
        for (name, value) in head.headers {
            guard !hopByHop.contains(name), let fieldName = HTTPField.Name(name) else { continue }
            fields.append(HTTPField(name: fieldName, value: value))
        }
        let status = HTTPResponse.Status(code: Int(head.status.code), reasonPhrase: head.status.reasonPhrase)
        return HTTPResponse(status: status, headerFields: fields)
    }

    /// The hostname of an authority (`host`, `host:port`, `[v6]:port`), for rule matching.
    static func hostname(ofAuthority authority: String) -> String {
        // On the UTF-8 bytes: the delimiters are ASCII, and this runs for every request.
        let bytes = authority.utf8
        if bytes.first == UInt8(ascii: "["), let close = bytes.firstIndex(of: UInt8(ascii: "]")) {
            return String(authority[bytes.index(after: bytes.startIndex)..<close])
        }
        if let colon = bytes.lastIndex(of: UInt8(ascii: ":")), bytes.firstIndex(of: UInt8(ascii: ":")) == colon {
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

extension String {
    /// The string with leading zeros up to `width` characters.
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
