import EgressLinux
import Foundation
import Synchronization

/// A long-running program a test talks to (for example `openssl s_server`): started now,
/// its standard output collected as it comes, terminated when the object goes away.
public final class BackgroundProcess: Sendable {
    private let process: SpawnedProcess
    private let input: Int32
    private let output = OutputBuffer()

    /// Starts `executable` with `arguments`; standard error is merged into standard output.
    public init(_ executable: String, _ arguments: [String]) throws {
        let (outputRead, outputWrite) = try Pipes.make()
        let (inputRead, inputWrite) = try Pipes.make()
        defer {
            close(outputWrite)
            close(inputRead)
        }
        do {
            process = try SpawnedProcess(
                executable: try ProcessRunner.resolve(executable).path, arguments: arguments,
                standardInput: inputRead, standardOutput: outputWrite, standardError: outputWrite
            )
        } catch {
            close(outputRead)
            close(inputWrite)
            throw error
        }
        input = inputWrite
        Thread.detachNewThread { [output] in
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = read(outputRead, &buffer, buffer.count)
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { break }
                output.text.withLock { $0 += String(decoding: buffer[..<count], as: UTF8.self) }
            }
            close(outputRead)
            output.ended.withLock { $0 = true }
        }
    }

    deinit {
        stop()
        close(input)
    }

    /// The process identifier.
    public var processIdentifier: Int32 {
        process.pid
    }

    /// The peak resident memory of the process so far (`VmHWM`), in bytes; nil once it exited.
    public var peakResidentBytes: Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(process.pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "")
        else { return nil }
        return kilobytes * 1024
    }

    /// The exit status once the process has ended, else nil.
    public var exitStatus: Int32? {
        process.exitStatus
    }

    /// Whether the process is still running.
    public var isRunning: Bool {
        process.isRunning
    }

    /// Everything the process printed so far.
    public var printed: String {
        output.text.withLock { $0 }
    }

    /// Waits until a printed line starts with `prefix` and returns the rest of that line.
    public func waitForLine(startingWith prefix: String, timeout: TimeInterval = 10) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let text = printed
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) {
                return String(line.dropFirst(prefix.count))
            }
            if hasFinished { break }
            Thread.sleep(forTimeInterval: 0.01)
        }
        throw TestSupportError("no line starting with \"\(prefix)\" within \(timeout)s; printed:\n\(printed)")
    }

    /// Whether nothing more can be printed: the process exited and its output was read to the end
    /// (exiting alone is not enough: the reader may not have caught up yet).
    public var hasFinished: Bool {
        !process.isRunning && output.ended.withLock { $0 }
    }

    /// Waits until at least `count` printed lines contain `text`; returns those lines.
    @discardableResult
    public func waitForLines(containing text: String, count: Int = 1, timeout: TimeInterval = 10) throws -> [String] {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let found = lines(containing: text)
            if found.count >= count { return found }
            if hasFinished { break }
            Thread.sleep(forTimeInterval: 0.01)
        }
        throw TestSupportError("fewer than \(count) lines containing \"\(text)\" within \(timeout)s; printed:\n\(printed)")
    }

    /// The printed lines that contain `text`.
    public func lines(containing text: String) -> [String] {
        printed.split(separator: "\n").filter { $0.contains(text) }.map(String.init)
    }

    /// Writes `text` to the process's standard input.
    public func write(_ text: String) throws {
        try Pipes.write(Array(text.utf8), to: input)
    }

    /// Writes `line` and a newline to the process's standard input.
    public func writeLine(_ line: String) throws {
        try Pipes.write(Array((line + "\n").utf8), to: input)
    }

    /// Sends `signal` to the process.
    public func send(_ signal: Int32) {
        process.send(signal)
    }

    /// Waits for the process to exit and returns its exit status.
    public func waitForExit(timeout: TimeInterval = 15) throws -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let status = process.exitStatus { return status }
            Thread.sleep(forTimeInterval: 0.005)
        }
        throw TestSupportError("still running after \(timeout)s")
    }

    /// Terminates the process (SIGTERM, then SIGKILL) and waits for it.
    public func stop() {
        guard process.isRunning else { return }
        process.send(SIGTERM)
        let deadline = Date().addingTimeInterval(2)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.005) }
        process.send(SIGKILL)
        _ = process.waitForExit()
    }
}

/// What a background process printed, appended from the reading thread.
private final class OutputBuffer: Sendable {
    let text = Mutex("")
    /// The reader reached the end of the output: every line the process printed is in `text`.
    let ended = Mutex(false)
}
