import EgressLinux
import Foundation

/// Runs the system tools that set up a container's network namespace (`ip`, `iptables-restore`
/// under `nsenter`) and turns a failure into an error that quotes the tool.
enum SystemCommand {
    /// Where tools are looked up first, before this process's `PATH`.
    private static let fallbackPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// Runs `arguments` (the tool by name or path first) and waits for it; throws
    /// ``ContainerError/system(_:)`` with its standard error if it fails. Blocks the calling thread.
    static func run(_ arguments: [String]) throws(ContainerError) {
        guard let tool = arguments.first, let path = resolve(tool) else {
            throw .system("\(arguments.first ?? "?") is not installed (looked in PATH and \(fallbackPath))")
        }
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw .system("pipe: \(String(cString: strerror(errno)))") }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        let process: SpawnedProcess
        do {
            process = try SpawnedProcess(executable: path, arguments: Array(arguments.dropFirst()), standardError: ends[1])
        } catch {
            close(ends[0])
            close(ends[1])
            throw .system("cannot start \(tool): \(error)")
        }
        close(ends[1])
        let output = readAll(ends[0])
        close(ends[0])
        let status = process.waitForExit()
        guard status == 0 else {
            let text = String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw .system("\(arguments.joined(separator: " ")) failed with status \(status): \(text)")
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
