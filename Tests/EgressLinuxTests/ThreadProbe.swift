import EgressTesting
import Foundation
import Glibc

/// This process's threads as `/proc` shows them: which one is which, its name, and the system
/// call it is blocked in. Lets a test wait for the state it needs (a thread parked in a given
/// call) instead of sleeping and hoping that the state has come.
enum ThreadProbe {
    /// The calling thread's id (its entry in `/proc/self/task`), from the `/proc/thread-self` link.
    static func currentID() throws -> pid_t {
        var buffer = [CChar](repeating: 0, count: 64)
        let count = readlink("/proc/thread-self", &buffer, buffer.count - 1)
        let link = count > 0 ? String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
        guard let id = link.split(separator: "/").last.flatMap({ pid_t($0) }) else {
            throw TestSupportError("cannot tell the thread's id from /proc/thread-self (\(link.debugDescription))")
        }
        return id
    }

    /// Thread `id`'s name (as `top` shows it), nil once the thread has ended.
    static func name(of id: pid_t) -> String? {
        (try? String(contentsOfFile: "/proc/self/task/\(id)/comm", encoding: .utf8)).map { $0.trimmingCharacters(in: .newlines) }
    }

    /// The system call thread `id` is blocked in, and its arguments; nil while the thread runs,
    /// is not in a call, or has ended.
    static func blockedCall(of id: pid_t) -> BlockedCall? {
        guard let text = try? String(contentsOfFile: "/proc/self/task/\(id)/syscall", encoding: .utf8) else { return nil }
        let fields = text.split(whereSeparator: \.isWhitespace)
        // "running", or "-1 sp pc" for a thread blocked outside a system call.
        guard let number = fields.first.flatMap({ Int($0) }), number >= 0 else { return nil }
        return BlockedCall(number: number, arguments: fields.dropFirst().prefix(6).compactMap { UInt64($0.dropFirst(2), radix: 16) })
    }

    /// A system call a thread is blocked in (`/proc/<tid>/syscall`).
    struct BlockedCall: CustomStringConvertible {
        let number: Int
        let arguments: [UInt64]

        /// Whether this is `waitid`.
        var isWaitid: Bool { number == SystemCall.waitid }

        /// Whether this is `send` (glibc's is `sendto`).
        var isSend: Bool { number == SystemCall.sendto }

        /// Whether this is an `epoll_wait` with no timeout: a thread with nothing left to do
        /// until an event comes (a zero timeout is a look, not a wait).
        var isEpollWaitWithoutTimeout: Bool {
            guard arguments.count >= 4 else { return false }
            if number == SystemCall.epollPwait2 { return arguments[3] == 0 }  // a NULL timespec
            return SystemCall.epollWaits.contains(number) && Int32(truncatingIfNeeded: arguments[3]) < 0
        }

        var description: String { "system call \(number)\(arguments.prefix(4).map { " 0x" + String($0, radix: 16) }.joined())" }
    }

    /// The numbers of the calls the tests look for.
    private enum SystemCall {
        #if arch(x86_64)
        static let waitid = 247
        static let sendto = 44
        static let epollWaits: Set = [232, 281]  // epoll_wait, epoll_pwait
        #elseif arch(arm64)
        static let waitid = 95
        static let sendto = 206
        static let epollWaits: Set = [22]  // epoll_pwait (arm64 has no epoll_wait)
        #endif
        static let epollPwait2 = 441
    }
}

/// Polls `condition` every 2 ms until it holds; throws (failing the test) if it has not within
/// `timeout`, saying `what` was awaited and, from `state`, how things stood.
func waitUntil(
    _ what: String, timeout: Duration = .seconds(20), state: () -> String = { "" }, _ condition: () throws -> Bool
) throws {
    let deadline = ContinuousClock.now + timeout
    while try !condition() {
        guard ContinuousClock.now < deadline else { throw TestSupportError("\(what) did not happen within \(timeout) \(state())") }
        usleep(2_000)
    }
}
