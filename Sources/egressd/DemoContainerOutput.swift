import Containers
import Foundation

/// Runs the demo's container with its output on a pipe, printing each line as it comes
/// (`== ` lines as step headers, the rest as `container │ ...`), and returns all of it.
enum DemoContainerOutput {
    static func run(_ container: Container, script: String) async throws -> String {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw CommandFailure("pipe: \(String(cString: strerror(errno)))") }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        let readEnd = ends[0]
        let collected = Task.detached { await readLines(from: readEnd) }
        do {
            try await container.start(ContainerStartOptions(
                entrypoint: ["/bin/sh", "-c", script], output: .descriptors(standardOutput: ends[1], standardError: ends[1])
            ))
        } catch {
            close(ends[1])
            throw CommandFailure("the demo container did not start: \(error)")
        }
        close(ends[1])
        do {
            try await container.monitor()
        } catch {
            throw CommandFailure("the demo container failed: \(error)")
        }
        return await collected.value
    }

    /// Reads `fd` to its end on a thread of its own, printing line by line; closes it.
    private static func readLines(from fd: Int32) async -> String {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var all: [UInt8] = [], line: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 4096)
                while true {
                    let count = read(fd, &buffer, buffer.count)
                    if count < 0 && errno == EINTR { continue }
                    guard count > 0 else { break }
                    for byte in buffer[0..<count] {
                        guard byte == UInt8(ascii: "\n") else {
                            line.append(byte)
                            continue
                        }
                        let text = String(decoding: line, as: UTF8.self)
                        DemoOutput.print(text.hasPrefix("== ") ? "\n" + text.dropFirst(3) : "  container │ " + text)
                        all += line + [byte]
                        line.removeAll()
                    }
                }
                close(fd)
                continuation.resume(returning: String(decoding: all + line, as: UTF8.self))
            }
        }
    }
}
