import EgressLinux
import Glibc
import Synchronization
import Testing

/// Starting, waiting for and signalling child processes.
@Suite struct SpawnedProcessTests {
    @Test func exitStatusesAndSignalsAreReported() throws {
        let ok = try SpawnedProcess(executable: "/bin/sh", arguments: ["-c", "exit 0"])
        #expect(ok.waitForExit() == 0)
        let seven = try SpawnedProcess(executable: "/bin/sh", arguments: ["-c", "exit 7"])
        #expect(seven.waitForExit() == 7)
        #expect(seven.exitStatus == 7, "the status is kept once reaped")
        let sleeper = try SpawnedProcess(executable: "/bin/sleep", arguments: ["30"])
        #expect(sleeper.isRunning)
        sleeper.send(SIGTERM)
        #expect(sleeper.waitForExit() == 128 + SIGTERM)
        #expect(!sleeper.isRunning)
    }

    /// One thread waits while another signals: the waiter sees the end the signal caused, and
    /// the status stays readable (reaped once, kept) for everyone after. The signal goes only
    /// once the waiter is blocked in `waitid`, so that it is the wait that sees the end.
    @Test func aWaiterSeesTheEndOfAProcessAnotherThreadSignals() throws {
        let sleeper = try SpawnedProcess(executable: "/bin/sleep", arguments: ["30"])
        let waiterThread = Mutex<pid_t?>(nil)
        let waiter = BackgroundThread {
            waiterThread.withLock { $0 = try? ThreadProbe.currentID() }
            return sleeper.waitForExit()
        }
        let waiting = { waiterThread.withLock { $0 }.flatMap(ThreadProbe.blockedCall) }
        try waitUntil("the waiter to block in waitid", state: { "(last seen: \(waiting().map { "\($0)" } ?? "not blocked"))" }) {
            waiting()?.isWaitid == true
        }
        #expect(sleeper.isRunning)
        sleeper.send(SIGKILL)
        #expect(try waiter.value(timeout: 10) == 128 + SIGKILL)
        #expect(sleeper.exitStatus == 128 + SIGKILL)
        #expect(sleeper.waitForExit() == 128 + SIGKILL)
    }

    @Test func aMissingExecutableIsAnError() {
        #expect(throws: LinuxError.self) { try SpawnedProcess(executable: "/nonexistent/egress-test", arguments: []) }
    }
}
