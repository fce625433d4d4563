/// An HTTP response: what a handler returns, or what ``WorkerContext/fetch(_:)`` brings back.
public struct Response: Sendable {
    /// Status and header fields.
    public var head: HTTPResponse
    /// The body, streamed; read it once.
    public var body: Body

    /// A response from its head and body.
    public init(head: HTTPResponse, body: Body = .empty) {
        self.head = head
        self.body = body
    }

    /// A response with `status`, `headerFields` and `body`.
    public init(status: HTTPResponse.Status = .ok, headerFields: HTTPFields = [:], body: Body = .empty) {
        self.head = HTTPResponse(status: status, headerFields: headerFields)
        self.body = body
    }

    /// The status.
    public var status: HTTPResponse.Status {
        get { head.status }
        set { head.status = newValue }
    }

    /// The header fields.
    public var headerFields: HTTPFields {
        get { head.headerFields }
        set { head.headerFields = newValue }
    }
}
