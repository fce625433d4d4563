import CEgressLinux
import Glibc
import Synchronization

/// A child process started with `posix_spawn`: standard streams on given descriptors, every other
/// descriptor closed, default signal mask and dispositions. Safe to start from any thread.
///
/// (Foundation's `Process.run()` in Swift 6.3 can crash reading `/proc/self/fd`; this is the
/// project's way to start processes.)
public final class SpawnedProcess: Sendable {
    /// The process identifier.
    public let pid: pid_t
    private let status = Mutex<Int32?>(nil)

    /// Starts `executable` (an absolute path) with `arguments` (argv[1...]) and `environment`
    /// (nil: this process's). Descriptors of -1 mean `/dev/null`; the caller keeps its own.
    public init(
        executable: String, arguments: [String], environment: [String: String]? = nil,
        standardInput: Int32 = -1, standardOutput: Int32 = -1, standardError: Int32 = -1
    ) throws {
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer {
            argv.forEach { free($0) }
            envp?.forEach { free($0) }
        }
        var pid: pid_t = 0
        let error = argv.withUnsafeBufferPointer { argvBuffer in
            if let envp {
                return envp.withUnsafeBufferPointer { envpBuffer in
                    egress_spawn(executable, argvBuffer.baseAddress, envpBuffer.baseAddress, standardInput, standardOutput, standardError, &pid)
                }
            }
            return egress_spawn(executable, argvBuffer.baseAddress, nil, standardInput, standardOutput, standardError, &pid)
        }
        try LinuxError.check(error)
        self.pid = pid
    }

    /// The exit status once the process has ended (128 + the signal number if a signal ended
    /// it), else nil. Does not wait.
    public var exitStatus: Int32? {
        status.withLock { status in Self.reap(pid, into: &status) }
    }

    /// Reaps `pid` if it has ended (recording its status once); the caller holds the lock, so
    /// the pid cannot be reaped, and reused, behind its back.
    private static func reap(_ pid: pid_t, into status: inout Int32?) -> Int32? {
        if status == nil {
            var raw: Int32 = 0
            if waitpid(pid, &raw, WNOHANG) == pid {
                let signal = raw & 0x7F
                status = signal == 0 ? (raw >> 8) & 0xFF : 128 + signal
            }
        }
        return status
    }

    /// Whether the process is still running.
    public var isRunning: Bool {
        exitStatus == nil
    }

    /// Waits for the process to end and returns its exit status. The wait (`waitid` with
    /// `WNOWAIT`) leaves the process unreaped: reaping stays under the lock, as ``send(_:)`` needs.
    public func waitForExit() -> Int32 {
        var info = siginfo_t()
        while true {
            if let status = exitStatus { return status }
            if waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0, errno != EINTR {
                // Reaped meanwhile (its status is recorded: the next turn returns it), or not
                // ours to wait for: look again shortly.
                usleep(2_000)
            }
        }
    }

    /// Sends `signal` to the process (nothing once it has ended).
    public func send(_ signal: Int32) {
        status.withLock { status in
            if Self.reap(pid, into: &status) == nil { kill(pid, signal) }
        }
    }
}
