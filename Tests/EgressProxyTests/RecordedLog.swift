import Logging
import Synchronization

/// A `Logger` whose lines (message and metadata, `key=value`) are kept for a test to read.
final class RecordedLog: Sendable {
    private let lines = Mutex<[String]>([])

    /// A logger that records into this log.
    var logger: Logger {
        Logger(label: "egress.test") { _ in Handler(log: self) }
    }

    /// The lines so far.
    var recorded: [String] { lines.withLock { $0 } }

    /// Waits up to `seconds` for a line that contains every one of `parts`; returns it, or nil.
    /// It looks once more when the time is up, however late a loaded machine woke it.
    func line(containing parts: [String], within seconds: Int = 10) async -> String? {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while true {
            if let line = recorded.first(where: { line in parts.allSatisfy(line.contains) }) { return line }
            guard ContinuousClock.now < deadline else { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    private struct Handler: LogHandler {
        let log: RecordedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let fields = metadata.merging(event.metadata ?? [:]) { _, new in new }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            let line = ([event.message.description] + fields).joined(separator: " ")
            log.lines.withLock { $0.append(line) }
        }
    }
}
