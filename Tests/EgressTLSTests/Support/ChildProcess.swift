import Foundation

/// A process started for a test (`openssl s_server`, `openssl s_client`). Its output goes to a
/// file, not a pipe: a pipe's write end can leak into processes other tests start at the same
/// moment, and then never reports end of file. The process is killed when the value goes
/// away, so a failing test leaves nothing running.
final class ChildProcess: Sendable {
    struct Timeout: Error, CustomStringConvertible {
        let description: String
    }

    private let process: Process
    private let input: Pipe
    private let directory: TemporaryDirectory
    private let outputPath: String

    /// Starts `/usr/bin/openssl` with `arguments`; standard output and error go to one file.
    init(openssl arguments: [String]) throws {
        directory = try TemporaryDirectory()
        outputPath = try directory.write("", to: "output.txt")
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        defer { try? output.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        input = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        self.process = process
        try process.run()
    }

    deinit {
        if process.isRunning {
            // SIGKILL: the test runner's threads block SIGTERM, and children inherit that mask.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// Everything the process has printed so far.
    var outputText: String {
        (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    }

    /// Writes `text` to the process's standard input.
    func send(_ text: String) {
        input.fileHandleForWriting.write(Data(text.utf8))
    }

    /// Waits until the output matches `pattern`, and returns the match's first capture group
    /// (or the whole match).
    func waitForOutput(matching pattern: String, timeout: Duration = .seconds(30)) async throws -> String {
        let regex = try Regex(pattern)
        let deadline = ContinuousClock.now + timeout
        repeat {
            if let match = outputText.firstMatch(of: regex) {
                let captured = match.output.count > 1 ? match.output[1].substring : match.output[0].substring
                return String(captured ?? "")
            }
            try await Task.sleep(for: .milliseconds(20))
        } while ContinuousClock.now < deadline
        throw Timeout(description: "no output matching \(pattern) within \(timeout); output so far:\n\(outputText)")
    }

    /// Waits for the process to exit and returns its exit status.
    func waitForExit(timeout: Duration = .seconds(10)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                throw Timeout(description: "process still running after \(timeout); output so far:\n\(outputText)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }
}
