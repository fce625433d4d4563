import EgressLinux
import Foundation

/// What a finished command printed and how it ended.
public struct ProcessResult: Sendable {
    /// The exit status, or 128 + the signal number when it was killed.
    public let status: Int32
    /// Everything written to standard output.
    public let standardOutput: String
    /// Everything written to standard error.
    public let standardError: String

    /// Both streams, for failure messages.
    public var combinedOutput: String { standardOutput + standardError }
}

/// Runs real programs (`openssl`, `curl`, `egressd`, ...) the way a user would.
public enum ProcessRunner {
    /// Runs `executable` (a path, or a name looked up on `PATH`) to completion and captures its
    /// output. It is killed if it runs longer than `timeout` seconds.
    public static func run(
        _ executable: String,
        _ arguments: [String],
        input: String? = nil,
        environment: [String: String]? = nil,
        timeout: TimeInterval = 30
    ) throws -> ProcessResult {
        let scratch = try TemporaryDirectory("egress-run")
        let outputPath = scratch.path("stdout"), errorPath = scratch.path("stderr")
        let output = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        let error = open(errorPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        defer {
            if output >= 0 { close(output) }
            if error >= 0 { close(error) }
        }
        guard output >= 0, error >= 0 else { throw TestSupportError("cannot create output files in \(scratch.url.path)") }
        let (inputRead, inputWrite) = try Pipes.make()
        let process: SpawnedProcess
        do {
            defer { close(inputRead) }
            process = try SpawnedProcess(
                executable: try resolve(executable).path, arguments: arguments, environment: environment,
                standardInput: inputRead, standardOutput: output, standardError: error
            )
        } catch {
            close(inputWrite)
            throw error
        }
        // A child that does not read its input is fine: the write fails with EPIPE, not a signal.
        try? Pipes.write(Array((input ?? "").utf8), to: inputWrite)
        close(inputWrite)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.002) }
        process.send(SIGKILL)
        return ProcessResult(
            status: process.waitForExit(),
            standardOutput: (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "",
            standardError: (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
        )
    }

    /// ``run(_:_:input:environment:timeout:)`` for async code: the wait happens on a thread of
    /// its own, so tests that drive an in-process server do not starve Swift's cooperative
    /// thread pool (two cores give it two threads).
    public static func run(
        _ executable: String,
        _ arguments: [String],
        input: String? = nil,
        environment: [String: String]? = nil,
        timeout: TimeInterval = 30
    ) async throws -> ProcessResult {
        try await offThread { try run(executable, arguments, input: input, environment: environment, timeout: timeout) as ProcessResult }
    }

    /// The absolute path of `executable`, searching `PATH` for a bare name.
    public static func resolve(_ executable: String) throws -> URL {
        if executable.contains("/") { return URL(fileURLWithPath: executable) }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(executable)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return URL(fileURLWithPath: candidate) }
        }
        throw TestSupportError("\(executable) is not installed (not found on PATH)")
    }

    /// Whether `executable` is on `PATH`.
    public static func isInstalled(_ executable: String) -> Bool {
        (try? resolve(executable)) != nil
    }

    /// The directory of the running test binary, where `swift build` also puts `egressd`.
    public static var productsDirectory: URL {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent()
    }
}
