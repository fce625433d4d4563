import Foundation
import Logging

/// The decision log of `egressd run` and `egressd container run`: one line per connection and
/// per request, in the format of swift-log's `StreamLogHandler`
/// (`TIMESTAMP LEVEL LABEL: METADATA [SOURCE] MESSAGE`), written through a ``BatchedLogWriter``
/// (standard error): the lines an event loop logs in one tick go out in one write.
package struct DecisionLogHandler: LogHandler {
    /// Installs the handler. With `TZ` unset, glibc looks at `/etc/localtime` again for every
    /// timestamp (a `stat` per log line, about 2% of egressd's CPU under load); naming the file
    /// once makes it load the zone a single time. The zone shown does not change.
    package static func bootstrap() {
        setenv("TZ", ":/etc/localtime", 0)
        LoggingSystem.bootstrap { DecisionLogHandler(label: $0) }
    }

    package var logLevel: Logger.Level = .info
    /// The logger's metadata (a connection's fields), rendered once when set, not per line.
    package var metadata: Logger.Metadata = [:] {
        didSet { renderedMetadata = Self.render(metadata) }
    }
    private var renderedMetadata = ""
    private let label: String
    private let writer: BatchedLogWriter

    /// A handler for the logger `label`, writing to `writer`.
    package init(label: String, writer: BatchedLogWriter = .standardError) {
        self.label = label
        self.writer = writer
    }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    package func log(event: LogEvent) {
        var fields = renderedMetadata
        if event.metadata?.isEmpty == false || event.error != nil {
            var merged = metadata.merging(event.metadata ?? [:]) { _, explicit in explicit }
            if let error = event.error {
                merged["error.message"] = "\(error)"
                merged["error.type"] = "\(String(reflecting: type(of: error)))"
            }
            fields = Self.render(merged)
        }
        let message = event.message.description
        writer.write { line in
            Self.appendTimestamp(to: &line)
            line.append(UInt8(ascii: " "))
            line.append(contentsOf: event.level.rawValue.utf8)
            if !label.isEmpty {
                line.append(UInt8(ascii: " "))
                line.append(contentsOf: label.utf8)
            }
            line.append(UInt8(ascii: ":"))
            if !fields.isEmpty {
                line.append(UInt8(ascii: " "))
                line.append(contentsOf: fields.utf8)
            }
            line.append(contentsOf: " [".utf8)
            line.append(contentsOf: event.source.utf8)
            line.append(contentsOf: "] ".utf8)
            line.append(contentsOf: message.utf8)
            line.append(UInt8(ascii: "\n"))
        }
    }

    /// `key=value` pairs sorted by key, space-separated.
    private static func render(_ metadata: Logger.Metadata) -> String {
        metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }

    /// The local time to the second, with its offset: `2026-11-29T07:50:29+0000`.
    private static func appendTimestamp(to line: inout [UInt8]) {
        var now = time(nil)
        var local = tm()
        guard localtime_r(&now, &local) != nil else { return line.append(contentsOf: "<unknown>".utf8) }
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { text in
            guard let base = text.baseAddress else { return }
            let count = strftime(base, text.count, "%Y-%m-%dT%H:%M:%S%z", &local)
            line.append(contentsOf: UnsafeRawBufferPointer(start: base, count: count))
        }
    }
}
