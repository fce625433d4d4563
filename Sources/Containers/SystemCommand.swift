import EgressLinux
import Foundation

/// Runs the system tools that set up a container's network namespace (`ip`, `iptables-restore`
/// under `nsenter`) and turns a failure into an error that quotes the tool.
enum SystemCommand {
    /// Where tools are looked up first, before this process's `PATH`.
    private static let fallbackPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// Runs each of `commands` (the tool by name or path first) at the same time and waits for
    /// all of them; throws ``ContainerError/system(_:)`` quoting the first that failed and its
    /// standard error. Blocks the calling thread.
    static func run(_ commands: [[String]]) throws(ContainerError) {
        var started: [(arguments: [String], process: SpawnedProcess, errors: Int32)] = []
        var failure: ContainerError?
        for arguments in commands {
            do {
                started.append(try start(arguments))
            } catch {
                failure = error
                break
            }
        }
        for (arguments, process, errors) in started {
            let output = readAll(errors)
            close(errors)
            let status = process.waitForExit()
            if status != 0, failure == nil {
                let text = String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                failure = .system("\(arguments.joined(separator: " ")) failed with status \(status): \(text)")
            }
        }
        if let failure { throw failure }
    }

    /// Starts `arguments` with its standard error on a pipe; returns the pipe's read end.
    private static func start(_ arguments: [String]) throws(ContainerError) -> ([String], SpawnedProcess, Int32) {
        guard let tool = arguments.first, let path = resolve(tool) else {
            throw .system("\(arguments.first ?? "?") is not installed (looked in \(fallbackPath) and PATH)")
        }
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw .system("pipe: \(String(cString: strerror(errno)))") }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        defer { close(ends[1]) }
        do {
            let process = try SpawnedProcess(executable: path, arguments: Array(arguments.dropFirst()), standardError: ends[1])
            return (arguments, process, ends[0])
        } catch {
            close(ends[0])
            throw .system("cannot start \(tool): \(error)")
        }
    }

    /// The absolute path of `tool`.
    static func resolve(_ tool: String) -> String? {
        if tool.contains("/") { return tool }
        // The system's directories first: these tools run as root.
        let path = fallbackPath + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "")
        return path.split(separator: ":").filter { $0.hasPrefix("/") }.map { "\($0)/\(tool)" }.first { access($0, X_OK) == 0 }
    }

    private static func readAll(_ fd: Int32) -> [UInt8] {
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(fd, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return output }
            output += buffer[0..<count]
        }
    }
}
