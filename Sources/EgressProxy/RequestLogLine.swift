import Logging

/// The decision log line of one request: `request` and then its fields as `key=value`, in one
/// message.
///
/// The connection's fields (conn, src, dst, sni) are the logger's metadata, which a log handler
/// such as swift-log's `StreamLogHandler` renders once per connection. The request's own fields
/// go straight into the message instead of being passed as metadata, which the handler would
/// merge with the logger's, sort and render again on every line: on a busy keep-alive connection
/// that was a tenth of the proxy's time. The line is built as UTF-8 bytes and made a `String`
/// once (appending a dozen small strings and numbers cost more than the rest of the request's
/// bookkeeping).
struct RequestLogLine {
    private var bytes: [UInt8] = []

    init() {
        bytes.reserveCapacity(256)
        bytes.append(contentsOf: "request".utf8)
    }

    /// What a request's line says it got: `handler NAME`, `forward TARGET`, `deny`, kept in its
    /// parts until the line is written.
    enum Action: Sendable {
        case handler(String)
        case forward(UpstreamTarget)
        case deny
    }

    /// A request's URL in its parts, written as one (`scheme://authority/path`) without being
    /// joined first.
    struct URLParts {
        var scheme: String
        var authority: String?
        var path: String
    }

    /// The line of a request: what was asked, what was decided, what was sent (status 0: no
    /// response began), how long it took from `started`, and what went wrong, if anything.
    init(
        method: String, url: URLParts, rule: String?, action: Action, status: some BinaryInteger, bytes: Int,
        started: ContinuousClock.Instant, error: String? = nil
    ) {
        self.init()
        let elapsed = ContinuousClock.now - started
        add("method", method)
        add("url", url.scheme, "://", url.authority ?? "", url.path)
        add("rule", rule ?? "-")
        add("action", action)
        add("status", status)
        add("bytes", bytes)
        addKey("ms")
        Self.appendMilliseconds(elapsed, to: &self.bytes)
        if let error { add("error", error) }
    }

    /// Appends a duration as milliseconds with three decimals (`12.345`).
    static func appendMilliseconds(_ duration: Duration, to bytes: inout [UInt8]) {
        let (seconds, attoseconds) = duration.components
        let micros = max(0, seconds * 1_000_000 + attoseconds / 1_000_000_000_000)
        appendDecimal(UInt64(micros / 1000), to: &bytes)
        bytes.append(UInt8(ascii: "."))
        let fraction = micros % 1000
        bytes.append(UInt8(ascii: "0") + UInt8(fraction / 100))
        bytes.append(UInt8(ascii: "0") + UInt8(fraction / 10 % 10))
        bytes.append(UInt8(ascii: "0") + UInt8(fraction % 10))
    }

    /// Appends ` key=value`, the value given whole or in up to four parts (joined without a
    /// separator, and without being joined first). A value that holds `=`, a quote or a control
    /// character (a URL or error text the client chose) is quoted and escaped as a whole, so it
    /// cannot pass for more fields.
    mutating func add(_ key: StaticString, _ first: String, _ second: String = "", _ third: String = "", _ fourth: String = "") {
        addKey(key)
        guard Self.isPlain(first), Self.isPlain(second), Self.isPlain(third), Self.isPlain(fourth) else {
            return bytes.append(contentsOf: (first + second + third + fourth).debugDescription.utf8)
        }
        bytes.append(contentsOf: first.utf8)
        bytes.append(contentsOf: second.utf8)
        bytes.append(contentsOf: third.utf8)
        bytes.append(contentsOf: fourth.utf8)
    }

    /// Appends ` key=action`; a target whose names need quoting is quoted as a whole.
    mutating func add(_ key: StaticString, _ action: Action) {
        switch action {
        case .handler(let name):
            add(key, "handler ", name)
        case .deny:
            add(key, "deny")
        case .forward(let target):
            guard Self.isPlain(target.host), Self.isPlain(target.serverName ?? "") else {
                return add(key, "forward ", target.description)
            }
            addKey(key)
            bytes.append(contentsOf: "forward ".utf8)
            target.appendDescription(to: &bytes)
        }
    }

    private static func isPlain(_ text: String) -> Bool {
        !text.utf8.contains { $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: "\"") || $0 < 0x20 || $0 == 0x7F }
    }

    /// Appends ` key=value` for a number.
    mutating func add(_ key: StaticString, _ value: some BinaryInteger) {
        addKey(key)
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        Self.appendDecimal(UInt64(clamping: value.magnitude), to: &bytes)
    }

    /// The text of the line so far.
    var message: String { String(decoding: bytes, as: UTF8.self) }

    /// Logs the line at `info`.
    func log(to logger: Logger) {
        logger.info(Logger.Message(stringLiteral: message))
    }

    private mutating func addKey(_ key: StaticString) {
        bytes.append(UInt8(ascii: " "))
        key.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "="))
    }

    private static func appendDecimal(_ value: UInt64, to bytes: inout [UInt8]) {
        guard value >= 10 else { return bytes.append(UInt8(ascii: "0") + UInt8(value)) }
        appendDecimal(value / 10, to: &bytes)
        bytes.append(UInt8(ascii: "0") + UInt8(value % 10))
    }
}
