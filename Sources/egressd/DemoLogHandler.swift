import Foundation
import Logging
import Synchronization

/// The demo's log output: one short line per decision, `egress │ message key=value ...`, without
/// timestamps and labels, interleaved with the container's own output on standard output.
struct DemoLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info
    /// Keys that only add noise to a demo.
    private static let hidden: Set<String> = ["conn", "container", "src", "entrypoint"]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        let fields = merged.filter { !Self.hidden.contains($0.key) }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        DemoOutput.print("  egress    │ \(event.message) \(fields.joined(separator: " "))")
    }
}

/// Lines of the demo, from the log handler and the container's output reader, written whole.
enum DemoOutput {
    private static let lock = Mutex(())

    static func print(_ line: String) {
        lock.withLock { _ in
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
    }
}
