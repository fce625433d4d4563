import Logging

/// The decision log line of one request: `request` and then its fields as `key=value`, in one
/// message.
///
/// The connection's fields (conn, src, dst, sni) are the logger's metadata, which a log handler
/// such as swift-log's `StreamLogHandler` renders once per connection. The request's own fields
/// go straight into the message instead of being passed as metadata, which the handler would
/// merge with the logger's, sort and render again on every line: on a busy keep-alive connection
/// that was a tenth of the proxy's time.
struct RequestLogLine {
    private var text = "request"

    init() {
        text.reserveCapacity(192)
    }

    /// The line of a request: what was asked, what was decided, what was sent (status 0: no
    /// response began), how long it took from `started`, and what went wrong, if anything.
    init(
        method: String, url: String, rule: String?, action: String, status: some BinaryInteger, bytes: Int,
        started: ContinuousClock.Instant, error: String? = nil
    ) {
        self.init()
        let elapsed = ContinuousClock.now - started
        add("method", method)
        add("url", url)
        add("rule", rule ?? "-")
        add("action", action)
        add("status", status)
        add("bytes", bytes)
        add("ms", Self.milliseconds(elapsed))
        if let error { add("error", error) }
    }

    /// A duration as milliseconds with three decimals (`12.345`), formatted from integers: the
    /// `Double` description this replaced cost more than the rest of the line.
    static func milliseconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let micros = max(0, seconds * 1_000_000 + attoseconds / 1_000_000_000_000)
        let fraction = String(micros % 1000)
        return String(micros / 1000) + "." + String(repeating: "0", count: 3 - fraction.utf8.count) + fraction
    }

    /// Appends ` key=value`; a value that holds `=`, a quote or a control character (a URL or
    /// error text the client chose) is quoted and escaped, so it cannot pass for more fields.
    mutating func add(_ key: StaticString, _ value: String) {
        text += " "
        text += key.description
        text += "="
        let plain = !value.utf8.contains { $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: "\"") || $0 < 0x20 || $0 == 0x7F }
        text += plain ? value : value.debugDescription
    }

    /// The text of the line so far.
    var message: String { text }

    /// Appends ` key=value` for a number.
    mutating func add(_ key: StaticString, _ value: some BinaryInteger) {
        add(key, String(value))
    }

    /// Logs the line at `info`.
    func log(to logger: Logger) {
        logger.info(Logger.Message(stringLiteral: text))
    }
}
