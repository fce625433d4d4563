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
        guard FileManager.default.createFile(atPath: outputPath, contents: nil),
              FileManager.default.createFile(atPath: errorPath, contents: nil)
        else { throw TestSupportError("cannot create output files in \(scratch.url.path)") }
        let process = Process()
        process.executableURL = try resolve(executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
        let inputPipe = Pipe()
        process.standardInput = inputPipe
        try process.run()
        if let input { inputPipe.fileHandleForWriting.write(Data(input.utf8)) }
        try? inputPipe.fileHandleForWriting.close()
        let watchdog = DispatchWorkItem { [process] in if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        process.waitUntilExit()
        watchdog.cancel()
        let status = process.terminationReason == .uncaughtSignal
            ? 128 + process.terminationStatus : process.terminationStatus
        return ProcessResult(
            status: status,
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
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result {
                    try run(executable, arguments, input: input, environment: environment, timeout: timeout) as ProcessResult
                })
            }
        }
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
