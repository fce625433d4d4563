import Foundation

/// Pipes and descriptor writes for the processes tests start.
enum Pipes {
    /// A close-on-exec pipe: (read end, write end). (Children start with only the descriptors
    /// given to them anyway: `SpawnedProcess` closes the rest.)
    static func make() throws -> (Int32, Int32) {
        ignoreBrokenPipes
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else {
            throw TestSupportError("pipe: \(String(cString: strerror(errno)))")
        }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        return (ends[0], ends[1])
    }

    /// Writes all of `bytes` to `descriptor`.
    static func write(_ bytes: [UInt8], to descriptor: Int32) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { throw TestSupportError("write: \(String(cString: strerror(errno)))") }
            offset += written
        }
    }

    /// A child that exits before reading its input must not kill the test process with SIGPIPE.
    private static let ignoreBrokenPipes: Void = {
        signal(SIGPIPE, SIG_IGN)
    }()
}
