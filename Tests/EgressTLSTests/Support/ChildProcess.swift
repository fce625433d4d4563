import EgressTesting
import Foundation

/// A process started for a test (`openssl s_server`, `openssl s_client`), through EgressTesting's
/// `BackgroundProcess` (posix_spawn, only its own descriptors inherited). It is stopped when the
/// value goes away, so a failing test leaves nothing running.
final class ChildProcess: Sendable {
    struct Timeout: Error, CustomStringConvertible {
        let description: String
    }

    private let process: BackgroundProcess

    init(openssl arguments: [String]) throws {
        process = try BackgroundProcess("/usr/bin/openssl", arguments)
    }

    var outputText: String {
        process.printed
    }

    func send(_ text: String) {
        try? process.write(text)
    }

    func waitForOutput(matching pattern: String, timeout: Duration = .seconds(30)) async throws -> String {
        let regex = try Regex(pattern)
        let deadline = ContinuousClock.now + timeout
        while true {
            if let match = outputText.firstMatch(of: regex) {
                let captured = match.output.count > 1 ? match.output[1].substring : match.output[0].substring
                return String(captured ?? "")
            }
            // Looked once more after the time is up, however late a loaded machine woke this.
            guard ContinuousClock.now < deadline else { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw Timeout(description: "no output matching \(pattern) within \(timeout); output so far:\n\(outputText)")
    }

    /// The exit status, once the process has ended and all it printed is in ``outputText``.
    func waitForExit(timeout: Duration = .seconds(10)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while true {
            if process.hasFinished, let status = process.exitStatus { return status }
            guard ContinuousClock.now < deadline else {
                let state = process.exitStatus == nil ? "process still running" : "process exited but its output is still open"
                throw Timeout(description: "\(state) after \(timeout); output so far:\n\(outputText)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
